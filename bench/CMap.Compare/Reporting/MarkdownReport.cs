using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace CMap.Compare;

/// <summary>Writes report.md and its SVG charts.</summary>
internal static class MarkdownReport
{
    public static void Write(RunResult run, string directory)
    {
        StoreResult[] ok = run.Stores.Where(r => r.Error is null).ToArray();
        ChartSeries[] series = ok.Select(r => new ChartSeries(r.Store, StoreColor(r.Store))).ToArray();
        int readers = Math.Max(1, run.Threads - 1);
        var charts = new List<(string File, string Title)>
        {
            Chart(directory, "throughput.svg", "Throughput (operations per second, higher is better)",
                Format.Invariant($"{run.Threads} threads, random existing keys, {run.DurationSeconds:0.#} s per phase"), series,
                [
                    new("Get", ok.Select(r => r.Get?.OpsPerSecond).ToArray()),
                    new("Insert (overwrite)", ok.Select(r => r.Insert?.OpsPerSecond).ToArray()),
                    new("Mixed 90% get / 10% insert", ok.Select(r => r.Mixed?.OpsPerSecond).ToArray()),
                ],
                Format.Rate),
            Chart(directory, "latency.svg", "Get latency under churn (lower is better)",
                Format.Invariant($"{readers} reader thread(s) timing every get while 1 writer overwrites, deletes and re-inserts"), series,
                [
                    new("p99", ok.Select(r => (double?)r.Latency?.P99Nanoseconds).ToArray()),
                    new("p99.9", ok.Select(r => (double?)r.Latency?.P999Nanoseconds).ToArray()),
                ],
                Format.Nanoseconds),
            Chart(directory, "gc-pause.svg", "GC pauses (lower is better)",
                "One forced full blocking compacting GC with the data loaded; GC pause summed over the timed phases", series,
                [
                    new("Forced full GC after load", ok.Select(r => r.Gc?.ForcedFullGcMilliseconds).ToArray()),
                    new("GC pause during the timed phases", ok.Select(ResultTable.TimedPhasePause).ToArray()),
                ],
                Format.Milliseconds),
            Chart(directory, "memory.svg", "Memory per entry beyond key + value (lower is better)",
                Format.Invariant($"Growth from before to after loading {Format.Count(run.Entries)} entries of {run.KeySize} + {run.ValueSize} bytes, divided by the entries, less {run.KeySize + run.ValueSize} B"), series,
                [
                    new("Working set", ok.Select(r => r.Memory?.WorkingSetOverheadPerEntry).ToArray()),
                    new("Managed heap + native", ok.Select(r => r.Memory?.HeapPlusNativeOverheadPerEntry).ToArray()),
                ],
                Format.PerEntry),
        };

        MachineInfo m = run.Machine;
        var md = new StringBuilder();
        md.AppendLine("# CMap comparison: ByteMap vs ConcurrentDictionary, MemoryCache and FASTER KV").AppendLine();
        md.AppendLine(Format.Invariant($"Run {run.StartedUtc:yyyy-MM-dd HH:mm} UTC, wall time {Format.Seconds(run.WallSeconds)}.")).AppendLine();
        md.AppendLine("## Setup").AppendLine();
        md.AppendLine(Format.Invariant($"- Command line: `{run.CommandLine}`"));
        md.AppendLine(Format.Invariant($"- Effective options: `{run.Options}` (reproduce with `dotnet run -c Release --project bench/CMap.Compare -- {run.Options}`)"));
        md.AppendLine(Format.Invariant($"- Machine: {m.ProcessorCount} logical processors{(m.CpuModel is null ? "" : $" ({m.CpuModel})")}, {Format.Bytes(m.AvailableMemoryBytes)} available to the GC"));
        md.AppendLine(Format.Invariant($"- OS: {m.Os}, {m.Architecture}"));
        md.AppendLine(Format.Invariant($"- .NET: {m.Framework}; GC: {m.GcMode}"));
        if (m.LoadAverageAtStart is not null)
        {
            md.AppendLine(Format.Invariant($"- Load average (1, 5, 15 min) at start: {m.LoadAverageAtStart}; at end: {m.LoadAverageAtEnd} (above the processor count means other work competed for the CPUs)"));
        }
        md.AppendLine().AppendLine("## Results").AppendLine();
        md.Append(ResultTable.RenderMarkdown(run));
        foreach (StoreResult failed in run.Stores.Where(r => r.Error is not null))
        {
            md.AppendLine(Format.Invariant($"**{failed.Store} failed:** {failed.Error}")).AppendLine();
        }

        md.AppendLine("## Charts").AppendLine();
        foreach ((string file, string title) in charts)
        {
            md.AppendLine(Format.Invariant($"![{title}]({file})")).AppendLine();
        }

        md.AppendLine("## Stores").AppendLine();
        foreach (StoreResult r in run.Stores)
        {
            md.AppendLine(Format.Invariant($"- **{r.Store}**: {r.Configuration ?? "not created"}."));
            if (r.Memory?.StoreDetail is { } detail)
            {
                md.AppendLine(Format.Invariant($"  After load: {detail}."));
            }
        }

        md.AppendLine().AppendLine("## Method").AppendLine();
        md.AppendLine("""
            - Each store runs in a fresh worker process of its own (this program re-launched with `--worker`), one store
              at a time, so no store's garbage or heap shape bills another.
            - Keys are distinct and pseudo-random (an 8-byte bijective mix of the index, then random bytes) and values come
              from a pool of 64 random values; all of it is generated from the seed before the store is created. Each
              thread draws keys with its own seeded SplitMix64, so the access pattern is the same for every store.
            - **Load**: one thread inserts every key once into a store presized for the run where the store allows it.
            - **Memory**: managed heap (`GC.GetTotalMemory`) and working set (`Environment.WorkingSet`) after full
              compacting collections, before and after the load. "Beyond key+value" is the growth divided by the entry
              count, less the key and value bytes. Native memory is what the store reports (CMap's `NativeBytes`);
              FASTER keeps its log pages and index on the pinned object heap, so they show up in the managed heap.
            - **Forced full GC**: after a settling full collection, one more `GC.Collect(2, Forced, blocking, compacting)`
              is timed with `Stopwatch`: the cost of a full GC with the data resident.
            - **Throughput**: every thread runs random gets (copied into a reused buffer), overwrites of random keys, or a
              90/10 mix, for the phase duration after an unmeasured warm-up of a quarter of it (at most 1 s).
            - **Latency under churn**: reader threads time every get with `Stopwatch.GetTimestamp` into per-thread
              log-linear histograms (1.6 % bucket precision, merged at the end) while one writer thread overwrites random
              keys and deletes-then-re-inserts others. Percentiles report the top of their bucket.
            - A reader stopped by a GC pause records only the one get it was in, so the measured percentiles hide pauses
              (coordinated omission). The corrected percentiles add, HdrHistogram-style, the gets a caller issuing one
              every "correction interval" would have had waiting behind each slow get; the interval is the store's own
              time per get per thread in the Get phase (no writer). The max shows the longest single stall. On a busy
              machine, a thread descheduled by the OS stalls just like one stopped by the GC, and one such stall can set
              the corrected tail; "GC pause during this phase" tells the two apart.
            - **GC**: collection counts and `GC.GetTotalPauseDuration` over the whole worker process, including the
              collections the tool forces for its memory readings (counted separately).
            - MemoryCache takes object keys, so its adapter converts each byte key to a hex string on every operation; that
              allocation is part of what it costs to use MemoryCache as a byte map. ConcurrentDictionary is probed with
              spans through `GetAlternateLookup`, so its gets allocate nothing.
            - The machine may be shared and noisy: compare ratios more than absolute figures, and rerun before drawing
              conclusions from small differences.
            """);

        File.WriteAllText(Path.Combine(directory, "report.md"), md.ToString());
    }

    /// <summary>A fixed colour per store, so charts of different runs match.</summary>
    private static string StoreColor(string store) => store switch
    {
        StoreFactory.CMap => "#2a9d8f",
        StoreFactory.ConcurrentDictionary => "#264653",
        StoreFactory.MemoryCache => "#e9c46a",
        _ => "#e76f51",
    };

    private static (string File, string Title) Chart(
        string directory, string file, string title, string subtitle, IReadOnlyList<ChartSeries> series, IReadOnlyList<ChartGroup> groups, Func<double, string> format)
    {
        File.WriteAllText(Path.Combine(directory, file), SvgChart.HorizontalBars(title, subtitle, series, groups, format));
        return (file, title);
    }
}
