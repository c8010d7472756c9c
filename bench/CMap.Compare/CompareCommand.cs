using System;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Linq;
using CMap.Bench.Stores;

using static CMap.Bench.CliOptions;

namespace CMap.Compare;

/// <summary>The command line (System.CommandLine): options, their checks, and the hidden options of a worker process.</summary>
internal static class CompareCommand
{
    public const string WorkerOption = "--worker";
    public const string RoundOption = "--round";
    public const string ResultOption = "--result";

    public static RootCommand Create(Func<CompareOptions, int> run)
    {
        var d = new CompareOptions();
        Option<int> entries = IntegerOption("--entries", "Entries loaded into each store.", d.Entries, 1, 200_000_000);
        Option<int> keySize = IntegerOption("--key-size", "Key bytes (the first 8 make each key unique).", d.KeySize, KeySet.MinKeySize, ByteMap.MaxKeyLength);
        Option<int> valueSize = IntegerOption("--value-size", "Value bytes.", d.ValueSize, 0, 1 << 20);
        Option<int> threads = IntegerOption("--threads", $"Threads of the throughput phases; the latency phase runs N-1 readers (at least 1) and one writer. Default: the processor count ({Environment.ProcessorCount} here).", d.Threads, 1, 1024);
        Option<double> duration = NumberOption("--duration", "Seconds per timed phase, after an unmeasured warm-up of a quarter of it (at most 1 s).", d.DurationSeconds, 0.1, 3600, helpName: "S");
        Option<int> rounds = IntegerOption("--rounds", "Interleaved rounds (A B C A B C ...), each store in a fresh process per round; figures are medians over rounds, ratios medians with their min-max spread. Use at least 3 for a spread that means something.", d.Rounds, 1, 100);
        Option<int> gcSamples = IntegerOption("--gc-samples", "Forced full blocking collections timed per worker; the pause reported is their median.", d.GcSamples, 5, 1000);
        var stores = new Option<string[]>("--stores")
        {
            Description = $"Comma-separated subset of {string.Join(",", StoreCatalog.Names)}; ratios need {StoreCatalog.Baseline}.",
            DefaultValueFactory = _ => [.. d.Stores],
            CustomParser = ParseStores,
            HelpName = "LIST",
        };
        var output = new Option<string>("--out") { Description = "Where results.json, report.md and the charts go.", DefaultValueFactory = _ => d.OutDirectory, HelpName = "DIR" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the keys, values and access patterns.", DefaultValueFactory = _ => d.Seed, HelpName = "N" };
        var worker = new Option<string?>(WorkerOption) { Hidden = true };
        var round = new Option<int>(RoundOption) { Hidden = true };
        var result = new Option<string?>(ResultOption) { Hidden = true };

        var root = new RootCommand(
            "CMap.Compare: ByteMap against ConcurrentDictionary (the baseline of every ratio), MemoryCache, FASTER KV and BitFaster ConcurrentLru (sized to hold every entry). "
            + "Each store runs in a fresh process of its own, in interleaved rounds; the tool prints a table and writes "
            + "results.json, report.md and SVG charts.")
        {
            entries, keySize, valueSize, threads, duration, rounds, gcSamples, stores, output, seed, worker, round, result,
        };

        root.SetAction(parse =>
        {
            // Checks across options, here rather than in a validator: they need every value to have parsed.
            if ((long)parse.GetValue(entries) * parse.GetValue(keySize) > Array.MaxLength)
            {
                Console.Error.WriteLine("--entries × --key-size must stay under 2 GiB (the keys live in one array).");
                return 1;
            }

            if (parse.GetValue(worker) is not null && parse.GetValue(result) is null)
            {
                Console.Error.WriteLine($"{WorkerOption} needs {ResultOption} PATH.");
                return 1;
            }

            return run(new CompareOptions
            {
                Entries = parse.GetValue(entries),
                KeySize = parse.GetValue(keySize),
                ValueSize = parse.GetValue(valueSize),
                Threads = parse.GetValue(threads),
                DurationSeconds = parse.GetValue(duration),
                Rounds = parse.GetValue(rounds),
                GcSamples = parse.GetValue(gcSamples),
                Stores = parse.GetValue(stores)!,
                OutDirectory = parse.GetValue(output)!,
                Seed = parse.GetValue(seed),
                WorkerStore = parse.GetValue(worker),
                Round = parse.GetValue(round),
                ResultPath = parse.GetValue(result),
            });
        });
        return root;
    }

    private static string[] ParseStores(ArgumentResult result)
    {
        string[] names = result.Tokens
            .SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(s => s.ToLowerInvariant())
            .Distinct()
            .ToArray();
        string[] unknown = names.Where(n => !StoreCatalog.Contains(n)).ToArray();
        if (names.Length == 0 || unknown.Length > 0)
        {
            result.AddError($"Unknown store '{string.Join(",", unknown)}'; choose from {string.Join(",", StoreCatalog.Names)}.");
            return [];
        }

        // Report order, whatever order they were given in.
        return StoreCatalog.Names.Where(names.Contains).ToArray();
    }
}
