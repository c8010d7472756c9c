using System;
using System.Collections.Generic;
using System.Linq;
using CMap.Bench;
using CMap.Bench.Stores;

namespace CMap.Compare;

internal enum Better
{
    /// <summary>A description of the run, not a score.</summary>
    Neither,
    Higher,
    Lower,
}

/// <summary>
/// One figure of a worker's result: how to read it, how to print it, and whether its ratio to the baseline is
/// reported (<see cref="Ratio"/>) and counts among the headline figures (<see cref="Headline"/>).
/// </summary>
internal sealed record Metric(
    string Id,
    string Label,
    Func<StoreResult, double?> Select,
    Func<double, string> Format,
    Better Better = Better.Neither,
    bool Ratio = false,
    bool Headline = false)
{
    public string LabelWithDirection => Better switch
    {
        Better.Higher => $"{Label} (higher is better)",
        Better.Lower => $"{Label} (lower is better)",
        _ => Label,
    };
}

internal sealed record MetricSection(string Title, IReadOnlyList<Metric> Metrics);

/// <summary>The figures the tool reports, by section, and their reduction over rounds.</summary>
internal static class Metrics
{
    public static IReadOnlyList<MetricSection> Sections(RunResult run) => Sections(run.Entries, run.KeySize, run.ValueSize, run.Threads, run.GcSamples);

    public static IReadOnlyList<MetricSection> Sections(int entries, int keySize, int valueSize, int threads, int gcSamples)
    {
        int readers = Math.Max(1, threads - 1);
        return
        [
            new(Format.Invariant($"Load: {Format.Count(entries)} entries, {keySize} B keys, {valueSize} B values, one thread"),
            [
                new("load.seconds", "Load time", r => r.Load?.Seconds, Format.Seconds, Better.Lower),
                new("load.rate", "Load rate (inserts/s)", r => r.Load?.OpsPerSecond, Format.Rate, Better.Higher),
                new("load.create", "Store creation (presizing), not in load time", r => r.Load?.CreateMilliseconds, Format.Milliseconds),
            ]),
            new("Memory after load (after full compacting collections)",
            [
                new("memory.heap", "Managed heap", r => r.Memory?.HeapAfterBytes, Bytes),
                new("memory.workingSet", "Working set", r => r.Memory?.WorkingSetAfterBytes, Bytes),
                new("memory.native", "Native memory (store-reported)", r => r.Memory?.NativeBytes, Bytes),
                new("memory.workingSetPerEntry", "Working set / entry beyond key+value", r => r.Memory?.WorkingSetOverheadPerEntry, Format.PerEntry, Better.Lower, Ratio: true),
                new("memory.heapNativePerEntry", "Heap + native / entry beyond key+value", r => r.Memory?.HeapPlusNativeOverheadPerEntry, Format.PerEntry, Better.Lower, Ratio: true, Headline: true),
                new("memory.nativePerEntry", "Native / entry beyond key+value", r => r.Memory?.NativeOverheadPerEntry, Format.PerEntry),
            ]),
            new(Format.Invariant($"Throughput, {threads} threads, random existing keys"),
            [
                new("throughput.get", "Get ops/s", r => r.Get?.OpsPerSecond, Format.Rate, Better.Higher, Ratio: true, Headline: true),
                new("throughput.insert", "Insert (overwrite) ops/s", r => r.Insert?.OpsPerSecond, Format.Rate, Better.Higher, Ratio: true, Headline: true),
                new("throughput.mixed", "Mixed 90% get / 10% insert ops/s", r => r.Mixed?.OpsPerSecond, Format.Rate, Better.Higher, Ratio: true, Headline: true),
            ]),
            new(Format.Invariant($"Get latency while one writer churns: {readers} reader{(readers == 1 ? "" : "s")} + 1 writer"),
            [
                new("latency.p50", "p50", r => r.Latency?.P50Nanoseconds, Format.Nanoseconds, Better.Lower),
                new("latency.p90", "p90", r => r.Latency?.P90Nanoseconds, Format.Nanoseconds, Better.Lower),
                new("latency.p99", "p99", r => r.Latency?.P99Nanoseconds, Format.Nanoseconds, Better.Lower),
                new("latency.p999", "Get p99.9 under churn", r => r.Latency?.P999Nanoseconds, Format.Nanoseconds, Better.Lower, Ratio: true, Headline: true),
                new("latency.max", "max", r => r.Latency?.MaxNanoseconds, Format.Nanoseconds, Better.Lower),
                new("latency.correctedP99", "p99, corrected for coordinated omission", r => r.Latency?.CorrectedP99Nanoseconds, Format.Nanoseconds, Better.Lower),
                new("latency.correctedP999", "p99.9, corrected for coordinated omission", r => r.Latency?.CorrectedP999Nanoseconds, Format.Nanoseconds, Better.Lower, Ratio: true),
                new("latency.interval", "correction interval (unloaded get time per thread)", r => r.Latency?.ExpectedIntervalNanoseconds, Format.Nanoseconds),
                new("latency.gcPause", "GC pause during this phase", r => r.Latency?.Gc.PauseMilliseconds, Format.Milliseconds, Better.Lower),
                new("latency.writer", "writer mutations/s", r => r.Latency?.WriterMutationsPerSecond, Format.Rate, Better.Higher),
            ]),
            new("GC over the whole worker process",
            [
                new("gc.forced", Format.Invariant($"Forced full GC pause (median of {gcSamples})"), r => r.ForcedGc?.MedianMilliseconds, Format.Milliseconds, Better.Lower, Ratio: true, Headline: true),
                new("gc.timedPhases", "GC pause during the timed phases", TimedPhasePause, Format.Milliseconds, Better.Lower),
                new("gc.total", "Total GC pause", r => r.Gc?.TotalPauseMilliseconds, Format.Milliseconds, Better.Lower),
                new("gc.gen0", "Collections gen0", r => r.Gc?.Gen0, Count),
                new("gc.gen1", "Collections gen1", r => r.Gc?.Gen1, Count),
                new("gc.gen2", "Collections gen2", r => r.Gc?.Gen2, Count),
                new("gc.induced", "  of which forced by the tool", r => r.Gc?.InducedCollections, Count),
            ]),
            new("The machine while the worker ran",
            [
                new("cpu.others", "CPU taken by other processes + hypervisor, worst timed phase (cores)", WorstForeignCpu, Cores),
                new("worker.peakMemory", "Peak resident memory of the worker process", r => r.PeakWorkingSetBytes, Bytes),
                new("worker.seconds", "Worker wall time", r => r.WorkerSeconds, Format.Seconds),
            ]),
        ];
    }

    /// <summary>GC pause summed over the measured (not warm-up) phases.</summary>
    public static double? TimedPhasePause(StoreResult r) =>
        r.Get is null ? null : new[] { r.Get?.Gc, r.Insert?.Gc, r.Mixed?.Gc, r.Latency?.Gc }.Sum(g => g?.PauseMilliseconds ?? 0);

    public static double? WorstForeignCpu(StoreResult r) =>
        new[] { r.Get?.Cpu, r.Insert?.Cpu, r.Mixed?.Cpu, r.Latency?.Cpu }.Where(c => c is not null).Select(c => c!.OtherCores + c.StealCores).DefaultIfEmpty(double.NaN).Max() is double v && !double.IsNaN(v) ? v : null;

    /// <summary>
    /// Every metric reduced over rounds: per store the median, min and max of its successful rounds; per store and
    /// round the ratio to the baseline's figure of the same round, then the median, min and max of those ratios.
    /// </summary>
    public static IReadOnlyList<MetricSummary> Summarize(IReadOnlyList<MetricSection> sections, IReadOnlyList<StoreResult> runs, IReadOnlyList<string> stores)
    {
        StoreResult[] ok = runs.Where(r => r.Error is null).ToArray();
        var summaries = new List<MetricSummary>();
        foreach (Metric metric in sections.SelectMany(s => s.Metrics))
        {
            var figures = new List<StoreFigure>();
            foreach (string store in stores)
            {
                StoreResult[] mine = ok.Where(r => r.Store == store).OrderBy(r => r.Round).ToArray();
                Spread? value = SpreadOf(mine.Select(metric.Select).Where(v => v is not null && double.IsFinite(v.Value)).Select(v => v!.Value));
                Spread? ratio = null;
                if (metric.Ratio)
                {
                    var ratios = new List<double>();
                    foreach (StoreResult r in mine)
                    {
                        StoreResult? baseline = ok.FirstOrDefault(b => b.Store == StoreCatalog.Baseline && b.Round == r.Round);
                        if (baseline is not null && metric.Select(r) is > 0 and double v && metric.Select(baseline) is > 0 and double reference)
                        {
                            ratios.Add(v / reference);
                        }
                    }

                    ratio = SpreadOf(ratios);
                }

                figures.Add(new StoreFigure(store, value, ratio));
            }

            summaries.Add(new MetricSummary(metric.Id, metric.Label, figures));
        }

        return summaries;
    }

    public static Spread? SpreadOf(IEnumerable<double> values)
    {
        double[] v = values.ToArray();
        if (v.Length == 0)
        {
            return null;
        }

        double[] sorted = v.Order().ToArray();
        int mid = sorted.Length / 2;
        double median = sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        return new Spread(median, sorted[0], sorted[^1], v);
    }

    private static string Bytes(double bytes) => Format.Bytes((long)bytes);

    private static string Count(double n) => Format.Invariant($"{n:0.#}");

    private static string Cores(double cores) => Format.Invariant($"{cores:0.00}");
}
