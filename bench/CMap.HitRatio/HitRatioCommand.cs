using System;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Linq;
using CMap.HitRatio.Caches;
using CMap.HitRatio.Traces;

using static CMap.Bench.CliOptions;

namespace CMap.HitRatio;

/// <summary>The command line (System.CommandLine): options, their checks, and what --quick changes.</summary>
internal static class HitRatioCommand
{
    public const int QuickKeys = 20_000;
    public const int QuickScanEvery = 10_000;

    public static RootCommand Create(Func<HitRatioOptions, int> run)
    {
        var d = new HitRatioOptions();
        Option<int> keys = IntegerOption("--keys", "Keys in the universe the Zipf traces draw from.", d.Keys, 100, 100_000_000);
        Option<int> requestsPerKey = IntegerOption("--requests-per-key", "Requests of a Zipf or loop trace per key of the universe.", d.RequestsPerKey, 1, 1000);
        var sizes = new Option<double[]>("--sizes")
        {
            Description = "Comma-separated cache sizes, in percent of the trace's distinct bytes (the loop: of the universe's).",
            DefaultValueFactory = _ => [.. d.SizePercents],
            CustomParser = ParseSizes,
            HelpName = "LIST",
        };
        var traces = new Option<TraceSpec[]>("--traces")
        {
            Description = $"Comma-separated traces: zipf-S (any skew S), zipf-S-scan, loop. Default: {string.Join(",", TraceSpec.Defaults)}.",
            DefaultValueFactory = _ => [.. d.Traces],
            CustomParser = ParseTraces,
            HelpName = "LIST",
        };
        var caches = new Option<string[]>("--caches")
        {
            Description = $"Comma-separated subset of {string.Join(",", CacheCatalog.Names)}; the goals need cmap and the peer they name.",
            DefaultValueFactory = _ => [.. d.Caches],
            CustomParser = ParseCaches,
            HelpName = "LIST",
        };
        Option<int> cmapRuns = IntegerOption("--cmap-runs", "Runs of CMap per cell (its eviction is on a background thread, so runs differ); the cell shows the median run and the spread.", d.CMapRuns, 1, 25);
        var tryRead = new Option<bool>("--cmap-tryread")
        {
            Description = "CMap reads with TryRead (zero-copy) instead of TryGet into a buffer: the same read core and access mark, a faster request loop.",
        };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the traces, the value sizes and CMap's hash.", DefaultValueFactory = _ => d.Seed, HelpName = "N" };
        var output = new Option<string>("--out") { Description = "Markdown report path; the CSV goes beside it (same name, .csv).", DefaultValueFactory = _ => d.OutPath, HelpName = "FILE" };
        Option<int> minValue = IntegerOption("--min-value", "Smallest value size in bytes.", d.MinValueSize, 0, 1 << 20);
        Option<int> maxValue = IntegerOption("--max-value", "Largest value size in bytes (sizes are log-uniform between the two).", d.MaxValueSize, 1, 16 << 20);
        Option<int> scanEvery = IntegerOption("--scan-every", "Zipf requests between two scans of the -scan traces.", d.ScanEvery, 100, 100_000_000);
        Option<double> scanFraction = NumberOption("--scan-fraction", "Bytes of one scan, as a fraction of the cache.", d.ScanFraction, 0.001, 100);
        Option<double> loopFactor = NumberOption("--loop-factor", "Bytes the loop trace cycles over, as a multiple of the cache.", d.LoopFactor, 0.01, 100);
        Option<double> warmup = NumberOption("--warmup", "Fraction of each trace's first requests not counted.", d.WarmupFraction, 0, 0.9);
        var quick = new Option<bool>("--quick")
        {
            Description = Invariant($"Smoke test: --keys {QuickKeys} and --scan-every {QuickScanEvery} unless given (about a minute)."),
        };

        var root = new RootCommand(
            "CMap.HitRatio: one request trace fed to bounded caches (CMap with a byte budget, an exact byte-bounded LRU, "
            + "BitFaster ConcurrentLru and ConcurrentLfu, MemoryCache with a SizeLimit); a miss inserts. Prints object and byte "
            + "hit ratios per trace × cache size, checks the goals, and writes a markdown report and a CSV.")
        {
            keys, requestsPerKey, sizes, traces, caches, cmapRuns, tryRead, seed, output, minValue, maxValue, scanEvery, scanFraction, loopFactor, warmup, quick,
        };

        root.SetAction(parse =>
        {
            bool isQuick = parse.GetValue(quick);
            int min = parse.GetValue(minValue), max = parse.GetValue(maxValue);
            if (min > max)
            {
                Console.Error.WriteLine("--min-value must not exceed --max-value.");
                return 1;
            }

            return run(new HitRatioOptions
            {
                Keys = isQuick && !Given(parse, keys) ? QuickKeys : parse.GetValue(keys),
                RequestsPerKey = parse.GetValue(requestsPerKey),
                SizePercents = parse.GetValue(sizes)!,
                Traces = parse.GetValue(traces)!,
                Caches = parse.GetValue(caches)!,
                CMapRuns = parse.GetValue(cmapRuns),
                ZeroCopyReads = parse.GetValue(tryRead),
                Seed = parse.GetValue(seed),
                OutPath = parse.GetValue(output)!,
                MinValueSize = min,
                MaxValueSize = max,
                ScanEvery = isQuick && !Given(parse, scanEvery) ? QuickScanEvery : parse.GetValue(scanEvery),
                ScanFraction = parse.GetValue(scanFraction),
                LoopFactor = parse.GetValue(loopFactor),
                WarmupFraction = parse.GetValue(warmup),
                Quick = isQuick,
            });
        });
        return root;
    }

    private static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    private static string[] Split(ArgumentResult result) => result.Tokens
        .SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        .ToArray();

    private static double[] ParseSizes(ArgumentResult result)
    {
        string[] items = Split(result);
        double[] sizes = new double[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            string item = items[i].TrimEnd('%');
            if (!double.TryParse(item, NumberStyles.Float, CultureInfo.InvariantCulture, out sizes[i]) || !(sizes[i] > 0 && sizes[i] <= 100))
            {
                result.AddError($"--sizes takes percentages above 0 and at most 100, not '{items[i]}'.");
                return [];
            }
        }

        if (sizes.Length == 0)
        {
            result.AddError("--sizes needs at least one size.");
        }

        return sizes.Distinct().ToArray();
    }

    private static TraceSpec[] ParseTraces(ArgumentResult result)
    {
        string[] items = Split(result);
        var specs = new TraceSpec[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            if (!TraceSpec.TryParse(items[i], out TraceSpec? spec))
            {
                result.AddError($"Unknown trace '{items[i]}'; use zipf-S, zipf-S-scan (S a skew above 0, at most 4) or loop.");
                return [];
            }

            specs[i] = spec!;
        }

        if (specs.Length == 0)
        {
            result.AddError("--traces needs at least one trace.");
        }

        return specs.Distinct().ToArray();
    }

    private static string[] ParseCaches(ArgumentResult result)
    {
        string[] names = Split(result).Select(s => s.ToLowerInvariant()).Distinct().ToArray();
        string[] unknown = names.Where(n => !CacheCatalog.Contains(n)).ToArray();
        if (names.Length == 0 || unknown.Length > 0)
        {
            result.AddError($"Unknown cache '{string.Join(",", unknown)}'; choose from {string.Join(",", CacheCatalog.Names)}.");
            return [];
        }

        // Report order, whatever order they were given in.
        return CacheCatalog.Names.Where(names.Contains).ToArray();
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
