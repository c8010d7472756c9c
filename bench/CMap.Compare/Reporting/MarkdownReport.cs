using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using CMap.Bench;
using CMap.Bench.Stores;

namespace CMap.Compare;

/// <summary>Writes report.md and its SVG charts.</summary>
internal static class MarkdownReport
{
    public static void Write(RunResult run, string directory)
    {
        var charts = Charts(run).Select(c => (File: c.File, c.Spec.Title)).ToList();
        foreach ((string file, ChartSpec spec) in Charts(run))
        {
            File.WriteAllText(Path.Combine(directory, file), SvgChart.Render(spec));
        }

        MachineInfo m = run.Machine;
        var md = new StringBuilder();
        md.AppendLine("# CMap comparison: ByteMap vs ConcurrentDictionary, MemoryCache, FASTER KV and BitFaster ConcurrentLru").AppendLine();
        md.AppendLine(Format.Invariant($"Run {run.StartedUtc:yyyy-MM-dd HH:mm} UTC: {run.Rounds} interleaved rounds of {run.Stores.Count} stores, each store in a fresh process per round. Wall time {Format.Seconds(run.WallSeconds)}; peak resident memory of one process {(run.PeakMemoryBytes is long b ? Format.Bytes(b) : "unknown")}.")).AppendLine();
        md.AppendLine("## Setup").AppendLine();
        md.AppendLine(Format.Invariant($"- Command line: `{run.CommandLine}`"));
        md.AppendLine(Format.Invariant($"- Effective options: `{run.Options}` (reproduce with `dotnet run -c Release --project bench/CMap.Compare -- {run.Options}`)"));
        md.AppendLine(Format.Invariant($"- Machine: {m.ProcessorCount} logical processors{(m.CpuModel is null ? "" : $" ({m.CpuModel})")}, {Format.Bytes(m.AvailableMemoryBytes)} available to the GC"));
        md.AppendLine(Format.Invariant($"- OS: {m.Os}, {m.Architecture}"));
        md.AppendLine(Format.Invariant($"- .NET: {m.Framework}; GC: {m.GcMode}"));
        if (m.LoadAverageAtStart is not null)
        {
            md.AppendLine(Format.Invariant($"- Load average (1, 5, 15 min) at start: {m.LoadAverageAtStart}; at end: {m.LoadAverageAtEnd} (this run's own threads count in it)"));
        }

        md.AppendLine().AppendLine("## Ratios to ConcurrentDictionary").AppendLine();
        md.AppendLine(Format.Invariant($"Each round's figure divided by the baseline's figure of the same round; the median of those ratios, and their min–max in brackets. {ResultTable.Unsteady.Trim()} marks a spread wider than ±{ResultTable.RepeatableWithin * 100:0}% of the median. Headline figures first; indented rows are the others.")).AppendLine();
        AppendTable(md, ResultTable.Ratios(run));

        md.AppendLine("## Flagged workers").AppendLine();
        StoreResult[] flagged = run.Runs.Where(r => r.Overload.Count > 0).ToArray();
        if (flagged.Length == 0)
        {
            md.AppendLine("None: in no timed phase did other work take CPU the run's threads needed, and no latency maximum stood far above its phase's GC pauses.").AppendLine();
        }
        else
        {
            md.AppendLine(Format.Invariant($"{flagged.Length} of {run.Runs.Count} workers; those figures may be the machine's rather than the store's (they still count in the medians):")).AppendLine();
            foreach (StoreResult r in flagged)
            {
                foreach (string reason in r.Overload)
                {
                    md.AppendLine(Format.Invariant($"- round {r.Round}, {r.Store}: {reason}"));
                }
            }

            md.AppendLine();
        }

        md.AppendLine("## Figures").AppendLine();
        md.AppendLine(Format.Invariant($"Medians over the {run.Rounds} rounds; ±N% is the larger distance from the median to the min or the max.")).AppendLine();
        foreach (TableSection section in ResultTable.Figures(run))
        {
            AppendTable(md, section);
        }

        foreach (StoreResult failed in run.Runs.Where(r => r.Error is not null))
        {
            md.AppendLine(Format.Invariant($"**Round {failed.Round}, {failed.Store} failed:** {failed.Error}")).AppendLine();
        }

        md.AppendLine("## Headline figures by round").AppendLine();
        md.AppendLine("In the order the workers ran.").AppendLine();
        Metric[] headline = ResultTable.RatioMetrics(run).Where(x => x.Headline).ToArray();
        md.Append("| Round | Store | ").AppendJoin(" | ", headline.Select(h => h.Label)).AppendLine(" | Flagged |");
        md.Append("|---:|---|").AppendJoin("", headline.Select(_ => "---:|")).AppendLine("---|");
        foreach (StoreResult r in run.Runs)
        {
            md.Append(Format.Invariant($"| {r.Round} | {r.Store} | "))
                .AppendJoin(" | ", headline.Select(h => h.Select(r) is double v ? h.Format(v) : ResultTable.Missing))
                .AppendLine(r.Overload.Count > 0 ? $" | {string.Join("; ", r.Overload.Select(o => o[..o.IndexOf(':', StringComparison.Ordinal)]))} |" : " | |");
        }

        md.AppendLine().AppendLine("## Charts").AppendLine();
        foreach ((string file, string title) in charts)
        {
            md.AppendLine(Format.Invariant($"![{title}]({file})")).AppendLine();
        }

        md.AppendLine("## Stores").AppendLine();
        foreach (string store in run.Stores)
        {
            StoreResult? first = run.Runs.FirstOrDefault(r => r.Store == store && r.Configuration is not null);
            md.AppendLine(Format.Invariant($"- **{store}**: {first?.Configuration ?? "not created"}."));
            if (first?.Memory?.StoreDetail is { } detail)
            {
                md.AppendLine(Format.Invariant($"  After load (round {first.Round}): {detail}."));
            }
        }

        md.AppendLine().AppendLine("## Method").AppendLine();
        md.AppendLine(Format.Invariant($"""
            - **Rounds.** Every store runs once per round, in the same order each round (A B C D, A B C D, ...), each time
              in a fresh worker process (this program re-launched with `--worker`), so no store's garbage or heap shape
              bills another, and drift of the machine over the run lands on every store alike instead of on whichever
              ran last. A figure is the median over rounds; a ratio is the median of the per-round ratios to the
              baseline's figure of the same round, with their min and max.
            - Keys are distinct and pseudo-random (an 8-byte bijective mix of the index, then random bytes) and values come
              from a pool of 64 random values; all of it is generated from the seed before the store is created. Each
              thread draws keys with its own seeded SplitMix64, so the access pattern is the same for every store and round.
            - **Load**: one thread inserts every key once into a store presized for the run where the store allows it.
            - **Forced full GC**: after two settling full collections, {run.GcSamples} more
              `GC.Collect(2, Forced, blocking, compacting)` are each timed with `Stopwatch`; the worker's figure is their
              median (every sample is in results.json): the cost of a full GC with the data resident.
            - **Memory**: managed heap (`GC.GetTotalMemory`) and working set (`Environment.WorkingSet`) after full
              compacting collections, before and after the load. "Beyond key+value" is the growth divided by the entry
              count, less the key and value bytes. Native memory is what the store reports (CMap's `NativeBytes`);
              FASTER keeps its log pages and index on the pinned object heap, so they show up in the managed heap.
            - **Throughput**: every thread runs random gets (copied into a reused buffer), overwrites of random keys, or a
              90/10 mix, for the phase duration after an unmeasured warm-up of a quarter of it (at most 1 s).
            - **Latency under churn**: reader threads time every get with `Stopwatch.GetTimestamp` into per-thread
              HdrHistogram histograms (3 significant digits, merged at the end) while one writer thread overwrites random
              keys and deletes-then-re-inserts others.
            - A reader stopped by a GC pause records only the one get it was in, so the measured percentiles hide pauses
              (coordinated omission). The corrected percentiles come from HdrHistogram's `RecordValueWithExpectedInterval`:
              the gets a caller issuing one every "correction interval" would have had waiting behind each slow get; the
              interval is the store's own time per get per thread in the Get phase (no writer). The max shows the longest
              single stall.
            - **Flagged workers.** Around every timed phase the worker reads the machine's CPU time (/proc/stat) and
              its own (/proc/self/stat). The phase's load is its busy threads plus the cores other processes and the
              hypervisor (steal) took meanwhile; a worker with a phase whose load passes the core count by more than
              {Worker.LoadTolerance:0.##} is flagged "overloaded". One whose latency max exceeds {Worker.StallFactor:0}× the GC pause of the whole
              latency phase plus {Worker.StallSlackMilliseconds:0} ms is flagged "OS stall": no collection explains it, so a reader was
              descheduled, and that max and the corrected percentiles measure the scheduler (with as many busy threads as
              cores, a few milliseconds happen even on a quiet machine). The 1-minute load average is reported but not
              used: it lags by a minute and counts this run's own threads.
            - **GC**: collection counts and `GC.GetTotalPauseDuration` over the whole worker process, including the
              collections the tool forces for its memory readings (counted separately).
            - MemoryCache takes object keys, so its adapter converts each byte key to a hex string on every operation; that
              allocation is part of what it costs to use MemoryCache as a byte map. ConcurrentDictionary is probed with
              spans through `GetAlternateLookup`, so its gets allocate nothing.
            - The store adapters are bench/CMap.Bench.Shared/Stores, shared with the BenchmarkDotNet suites.
            """));

        File.WriteAllText(Path.Combine(directory, "report.md"), md.ToString());
    }

    private static List<(string File, ChartSpec Spec)> Charts(RunResult run)
    {
        ChartSeries[] series = run.Stores.Select(s => new ChartSeries(s, StoreCatalog.Color(s))).ToArray();
        int readers = Math.Max(1, run.Threads - 1);
        string rounds = Format.Invariant($"{run.Rounds} round{(run.Rounds == 1 ? "" : "s")}");

        ChartGroup Group(string label, string metricId, IReadOnlyList<string>? stores = null, bool ratio = false)
        {
            MetricSummary? summary = run.Summary.FirstOrDefault(s => s.Id == metricId);
            return new ChartGroup(label, (stores ?? run.Stores).Select(s => summary?.Stores.FirstOrDefault(f => f.Store == s) is { } f ? ratio ? f.Ratio : f.Value : null).ToArray());
        }

        Func<Spread, string> Labelled(Func<double, string> format) =>
            s => s.Max > s.Min ? Format.Invariant($"{format(s.Median)} ({format(s.Min)} – {format(s.Max)})") : format(s.Median);

        string[] peers = run.Stores.Where(s => s != StoreCatalog.Baseline).ToArray();
        Metric[] ratioMetrics = ResultTable.RatioMetrics(run).ToArray();
        return
        [
            ("ratios.svg", new ChartSpec(
                Format.Invariant($"Ratio to {StoreCatalog.Baseline}, per round, over {rounds}"),
                "Each store's figure ÷ ConcurrentDictionary's in the same round; 1× is parity",
                peers.Select(s => new ChartSeries(s, StoreCatalog.Color(s))).ToArray(),
                ratioMetrics.Select(x => Group(x.LabelWithDirection, x.Id, peers, ratio: true)).ToArray(),
                Format.Ratio,
                AxisScale.Log,
                s => s.Max > s.Min ? $"{Format.Ratio(s.Median)} ({ResultTable.Range(s)})" : Format.Ratio(s.Median),
                Origin: 1)),
            ("throughput.svg", new ChartSpec(
                "Throughput (operations per second, higher is better)",
                Format.Invariant($"{run.Threads} threads, random existing keys, {run.DurationSeconds:0.#} s per phase, {rounds}"),
                series,
                [Group("Get", "throughput.get"), Group("Insert (overwrite)", "throughput.insert"), Group("Mixed 90% get / 10% insert", "throughput.mixed")],
                Format.Rate,
                AxisScale.Linear,
                Labelled(Format.Rate))),
            ("latency.svg", new ChartSpec(
                "Get latency under churn (lower is better)",
                Format.Invariant($"{readers} reader thread(s) timing every get while 1 writer overwrites, deletes and re-inserts; {rounds}"),
                series,
                [
                    Group("p99", "latency.p99"),
                    Group("p99.9", "latency.p999"),
                    Group("p99.9 corrected for coordinated omission", "latency.correctedP999"),
                    Group("max", "latency.max"),
                ],
                Format.Nanoseconds,
                AxisScale.Log,
                Labelled(Format.Nanoseconds))),
            ("gc-pause.svg", new ChartSpec(
                "GC pauses (lower is better)",
                Format.Invariant($"Forced full blocking compacting GC with the data loaded (median of {run.GcSamples} per worker); GC pause over the timed phases"),
                series,
                [Group("Forced full GC", "gc.forced"), Group("GC pause during the timed phases", "gc.timedPhases")],
                Format.Milliseconds,
                AxisScale.Log,
                Labelled(Format.Milliseconds))),
            ("memory.svg", new ChartSpec(
                "Memory per entry beyond key + value (lower is better)",
                Format.Invariant($"Growth over the load of {Format.Count(run.Entries)} entries of {run.KeySize} + {run.ValueSize} B, per entry, less {run.KeySize + run.ValueSize} B"),
                series,
                [Group("Working set", "memory.workingSetPerEntry"), Group("Managed heap + native", "memory.heapNativePerEntry")],
                Format.PerEntry,
                AxisScale.Linear,
                Labelled(Format.PerEntry))),
        ];
    }

    private static void AppendTable(StringBuilder md, TableSection section)
    {
        md.Append("### ").AppendLine(section.Title).AppendLine();
        md.Append("| Metric | ").AppendJoin(" | ", section.Columns).AppendLine(" |");
        md.Append("|---|").AppendJoin("", section.Columns.Select(_ => "---:|")).AppendLine();
        foreach (TableRow row in section.Rows)
        {
            md.Append("| ").Append(row.Label.Trim()).Append(" | ").AppendJoin(" | ", row.Cells).AppendLine(" |");
        }

        md.AppendLine();
    }
}
