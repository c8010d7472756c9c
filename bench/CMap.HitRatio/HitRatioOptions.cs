using System;
using System.Collections.Generic;
using System.IO;
using CMap.Bench;
using CMap.HitRatio.Caches;
using CMap.HitRatio.Traces;

namespace CMap.HitRatio;

/// <summary>The settings of one run (see <see cref="HitRatioCommand"/>); the defaults are the full matrix.</summary>
internal sealed record HitRatioOptions
{
    public int Keys { get; init; } = 1_000_000;

    public int RequestsPerKey { get; init; } = 10;

    /// <summary>Cache sizes, as percentages of the trace's distinct bytes (the loop: of the key universe's bytes).</summary>
    public IReadOnlyList<double> SizePercents { get; init; } = [1, 5, 20];

    public IReadOnlyList<TraceSpec> Traces { get; init; } = Array.ConvertAll(TraceSpec.Defaults, Parse);

    public IReadOnlyList<string> Caches { get; init; } = CacheCatalog.Names;

    public ulong Seed { get; init; } = 42;

    /// <summary>
    /// Runs of CMap per cell: its eviction runs on a background thread, so its figure moves with thread timing; the
    /// cell reports the median run and the spread. The other caches are deterministic (MemoryCache once quiesced).
    /// </summary>
    public int CMapRuns { get; init; } = 3;

    /// <summary>CMap reads with TryRead (no copy) instead of TryGet into a buffer.</summary>
    public bool ZeroCopyReads { get; init; }

    public int MinValueSize { get; init; } = 100;

    public int MaxValueSize { get; init; } = 64 * 1024;

    /// <summary>Zipf requests between two scans.</summary>
    public int ScanEvery { get; init; } = 100_000;

    /// <summary>One scan's bytes, as a fraction of the cache's.</summary>
    public double ScanFraction { get; init; } = 0.5;

    /// <summary>The loop's bytes, as a multiple of the cache's.</summary>
    public double LoopFactor { get; init; } = 1.2;

    /// <summary>The share of each trace's first requests fed to the caches but not counted.</summary>
    public double WarmupFraction { get; init; } = 0.1;

    /// <summary>Where the markdown report goes; the CSV goes beside it (same name, .csv).</summary>
    public string OutPath { get; init; } = Path.Combine("artifacts", "hitratio", "report.md");

    public bool Quick { get; init; }

    /// <summary>Requests of a Zipf or loop trace.</summary>
    public int Requests => (int)Math.Min(Array.MaxLength, (long)Keys * RequestsPerKey);

    /// <summary>Every option that shapes the figures, spelled out, for the report.</summary>
    public string Describe() => Format.Invariant(
        $"--keys {Keys} --requests-per-key {RequestsPerKey} --sizes {string.Join(",", SizePercents)} --traces {string.Join(",", NamesOf(Traces))} --caches {string.Join(",", Caches)} --cmap-runs {CMapRuns}{(ZeroCopyReads ? " --cmap-tryread" : "")} --seed {Seed} --min-value {MinValueSize} --max-value {MaxValueSize} --scan-every {ScanEvery} --scan-fraction {ScanFraction} --loop-factor {LoopFactor} --warmup {WarmupFraction}");

    private static TraceSpec Parse(string name) =>
        TraceSpec.TryParse(name, out TraceSpec? spec) ? spec! : throw new ArgumentException($"Unknown trace '{name}'.", nameof(name));

    private static IEnumerable<string> NamesOf(IReadOnlyList<TraceSpec> traces)
    {
        foreach (TraceSpec t in traces)
        {
            yield return t.Name;
        }
    }
}
