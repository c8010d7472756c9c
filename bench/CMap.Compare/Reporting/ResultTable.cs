using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace CMap.Compare;

internal sealed record TableRow(string Label, IReadOnlyList<string> Cells);

internal sealed record TableSection(string Title, IReadOnlyList<TableRow> Rows);

/// <summary>The figures of a run as rows of metrics by columns of stores, for the console and for report.md.</summary>
internal static class ResultTable
{
    private const string Missing = "—";

    public static IReadOnlyList<TableSection> Build(RunResult run)
    {
        IReadOnlyList<StoreResult> stores = run.Stores;
        TableRow Row(string label, Func<StoreResult, string?> cell) => new(label, stores.Select(r => cell(r) ?? Missing).ToArray());

        int readers = Math.Max(1, run.Threads - 1);
        var sections = new List<TableSection>
        {
            new(Format.Invariant($"Load: {Format.Count(run.Entries)} entries, {run.KeySize} B keys, {run.ValueSize} B values, one thread"),
            [
                Row("Load time", r => r.Load is { } l ? Format.Seconds(l.Seconds) : null),
                Row("Load rate (inserts/s)", r => r.Load is { } l ? Format.Rate(l.OpsPerSecond) : null),
                Row("Store creation (presizing), not in load time", r => r.Load is { } l ? Format.Milliseconds(l.CreateMilliseconds) : null),
            ]),
            new("Memory after load (after a full compacting GC)",
            [
                Row("Managed heap", r => r.Memory is { } m ? Format.Bytes(m.HeapAfterBytes) : null),
                Row("Working set", r => r.Memory is { } m ? Format.Bytes(m.WorkingSetAfterBytes) : null),
                Row("Native memory (store-reported)", r => r.Memory?.NativeBytes is { } b ? Format.Bytes(b) : null),
                Row("Working set growth / entry, beyond key+value", r => r.Memory is { } m ? Format.PerEntry(m.WorkingSetOverheadPerEntry) : null),
                Row("Heap + native growth / entry, beyond key+value", r => r.Memory is { } m ? Format.PerEntry(m.HeapPlusNativeOverheadPerEntry) : null),
                Row("Native / entry, beyond key+value", r => r.Memory?.NativeOverheadPerEntry is { } b ? Format.PerEntry(b) : null),
            ]),
            new(Format.Invariant($"Throughput, {run.Threads} threads, random existing keys"),
            [
                Row("Get (ops/s)", r => r.Get is { } t ? Format.Rate(t.OpsPerSecond) : null),
                Row("Insert, overwriting (ops/s)", r => r.Insert is { } t ? Format.Rate(t.OpsPerSecond) : null),
                Row("Mixed 90% get / 10% insert (ops/s)", r => r.Mixed is { } t ? Format.Rate(t.OpsPerSecond) : null),
            ]),
            new(Format.Invariant($"Get latency while one writer churns: {readers} reader{(readers == 1 ? "" : "s")} + 1 writer"),
            [
                Row("p50", r => r.Latency is { } l ? Format.Nanoseconds(l.P50Nanoseconds) : null),
                Row("p90", r => r.Latency is { } l ? Format.Nanoseconds(l.P90Nanoseconds) : null),
                Row("p99", r => r.Latency is { } l ? Format.Nanoseconds(l.P99Nanoseconds) : null),
                Row("p99.9", r => r.Latency is { } l ? Format.Nanoseconds(l.P999Nanoseconds) : null),
                Row("max", r => r.Latency is { } l ? Format.Nanoseconds(l.MaxNanoseconds) : null),
                Row("p99, corrected for coordinated omission", r => r.Latency is { } l ? Format.Nanoseconds(l.CorrectedP99Nanoseconds) : null),
                Row("p99.9, corrected for coordinated omission", r => r.Latency is { } l ? Format.Nanoseconds(l.CorrectedP999Nanoseconds) : null),
                Row("  correction interval (unloaded get time)", r => r.Latency is { } l ? Format.Nanoseconds(l.ExpectedIntervalNanoseconds) : null),
                Row("GC pause during this phase", r => r.Latency is { } l ? Format.Milliseconds(l.Gc.PauseMilliseconds) : null),
                Row("Reads (ops/s)", r => r.Latency is { } l ? Format.Rate(l.ReadOpsPerSecond) : null),
                Row("Writer mutations (ops/s)", r => r.Latency is { } l ? Format.Rate(l.WriterMutationsPerSecond) : null),
            ]),
            new("GC over the whole worker process",
            [
                Row("Collections gen0 / gen1 / gen2", r => r.Gc is { } g ? Format.Invariant($"{g.Gen0} / {g.Gen1} / {g.Gen2}") : null),
                Row("  of which forced by the tool", r => r.Gc is { } g ? Format.Count(g.InducedCollections) : null),
                Row("Total GC pause", r => r.Gc is { } g ? Format.Milliseconds(g.TotalPauseMilliseconds) : null),
                Row("GC pause during the timed phases", r => TimedPhasePause(r) is { } p ? Format.Milliseconds(p) : null),
                Row("Forced full GC after load", r => r.Gc?.ForcedFullGcMilliseconds is { } ms ? Format.Milliseconds(ms) : null),
            ]),
        };

        StoreResult? baseline = stores.FirstOrDefault(r => r.Store == StoreFactory.ConcurrentDictionary && r.Error is null);
        if (baseline is not null)
        {
            TableRow Ratio(string label, Func<StoreResult, double?> metric) =>
                Row(label, r => metric(r) is > 0 and { } value && metric(baseline) is > 0 and { } reference ? Format.Ratio(value / reference) : null);

            sections.Add(new TableSection($"Ratios vs {StoreFactory.ConcurrentDictionary} (the baseline)",
            [
                Ratio("Get ops/s (higher is better)", r => r.Get?.OpsPerSecond),
                Ratio("Insert ops/s (higher is better)", r => r.Insert?.OpsPerSecond),
                Ratio("Mixed ops/s (higher is better)", r => r.Mixed?.OpsPerSecond),
                Ratio("Get p99.9 under churn (lower is better)", r => r.Latency?.P999Nanoseconds),
                Ratio("Forced full GC pause (lower is better)", r => r.Gc?.ForcedFullGcMilliseconds),
                Ratio("Working set / entry beyond k+v (lower is better)", r => r.Memory?.WorkingSetOverheadPerEntry),
                Ratio("Heap + native / entry beyond k+v (lower is better)", r => r.Memory?.HeapPlusNativeOverheadPerEntry),
            ]));
        }

        return sections;
    }

    /// <summary>GC pause summed over the measured (not warm-up) phases.</summary>
    public static double? TimedPhasePause(StoreResult r) =>
        r.Get is null ? null : new[] { r.Get?.Gc, r.Insert?.Gc, r.Mixed?.Gc, r.Latency?.Gc }.Sum(g => g?.PauseMilliseconds ?? 0);

    public static string RenderText(RunResult run)
    {
        IReadOnlyList<TableSection> sections = Build(run);
        string[] header = ["", .. run.Stores.Select(r => r.Store)];
        int labelWidth = sections.SelectMany(s => s.Rows).Max(r => r.Label.Length);
        int[] widths = run.Stores
            .Select((r, i) => Math.Max(r.Store.Length, sections.SelectMany(s => s.Rows).Max(row => row.Cells[i].Length)))
            .ToArray();
        int totalWidth = labelWidth + widths.Sum(w => w + 3);

        var text = new StringBuilder();
        text.Append(' ', labelWidth);
        for (int i = 0; i < widths.Length; i++)
        {
            text.Append(" | ").Append(header[i + 1].PadLeft(widths[i]));
        }

        text.AppendLine();
        foreach (TableSection section in sections)
        {
            text.Append("── ").Append(section.Title).Append(' ').AppendLine(new string('─', Math.Max(3, totalWidth - section.Title.Length - 4)));
            foreach (TableRow row in section.Rows)
            {
                text.Append(row.Label.PadRight(labelWidth));
                for (int i = 0; i < widths.Length; i++)
                {
                    text.Append(" | ").Append(row.Cells[i].PadLeft(widths[i]));
                }

                text.AppendLine();
            }
        }

        foreach (StoreResult failed in run.Stores.Where(r => r.Error is not null))
        {
            text.AppendLine().Append(failed.Store).Append(" failed: ").Append(failed.Error);
        }

        return text.AppendLine().ToString();
    }

    public static string RenderMarkdown(RunResult run)
    {
        var text = new StringBuilder();
        foreach (TableSection section in Build(run))
        {
            text.Append("### ").AppendLine(section.Title).AppendLine();
            text.Append("| Metric | ").AppendJoin(" | ", run.Stores.Select(r => r.Store)).AppendLine(" |");
            text.Append("|---|").AppendJoin("", run.Stores.Select(_ => "---:|")).AppendLine();
            foreach (TableRow row in section.Rows)
            {
                text.Append("| ").Append(row.Label.Trim()).Append(" | ").AppendJoin(" | ", row.Cells).AppendLine(" |");
            }

            text.AppendLine();
        }

        return text.ToString();
    }
}
