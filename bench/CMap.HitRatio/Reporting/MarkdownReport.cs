using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using CMap.Bench;
using CMap.HitRatio.Caches;

namespace CMap.HitRatio.Reporting;

/// <summary>
/// The report as markdown (the tables, the goal summary and one mermaid bar chart per cache size) and every run as a
/// CSV row, beside it.
/// </summary>
internal static class MarkdownReport
{
    public static void Write(RunReport report)
    {
        string path = Path.GetFullPath(report.Options.OutPath);
        string markdown = Path.ChangeExtension(path, ".md");
        Directory.CreateDirectory(Path.GetDirectoryName(markdown)!);
        File.WriteAllText(markdown, Markdown(report));
        File.WriteAllText(Path.ChangeExtension(path, ".csv"), CsvReport.Csv(report));
    }

    public static string Markdown(RunReport report)
    {
        HitRatioOptions o = report.Options;
        var sb = new StringBuilder();
        sb.AppendLine("# CMap hit ratio").AppendLine();
        Line(sb, $"- Run: {report.Finished:yyyy-MM-dd HH:mm} UTC, {report.Elapsed.TotalMinutes:0.0} min, {Environment.ProcessorCount} processors, {RuntimeInformation.FrameworkDescription}.");
        Line(sb, $"- Options: `{o.Describe()}` (reproduce with `dotnet run -c Release --project bench/CMap.HitRatio -- {o.Describe()}`).");
        Line(sb, $"- Seed {o.Seed}: the traces, the value sizes (log-uniform {o.MinValueSize}–{o.MaxValueSize} B per key, fixed per key) and CMap's hash seed.");
        Line(sb, $"- Ratios count the requests after each trace's first {o.WarmupFraction:P0}. Object hit ratio = hits ÷ requests; byte hit ratio = key + value bytes of the hits ÷ of all requests.");
        Line(sb, $"- Cache sizes: percentages of the Zipf trace's distinct key + value bytes (the scan trace uses its Zipf trace's sizes); the loop's of the whole key universe's ({Format.Count(o.Keys)} keys).");
        sb.AppendLine("- CMap: `MaxBytes` = the budget, its own overhead (index, chunk headers and tails, pooled chunks) counted against it.")
            .AppendLine("  Exact LRU and MemoryCache (`SizeLimit`, entry Size) count key + value bytes only. ConcurrentLru and ConcurrentLfu")
            .AppendLine("  are bounded by entries: capacity = budget ÷ the trace's mean key + value bytes per distinct key.")
            .AppendLine();

        Table(sb, report.MainHeader(), report.MainRows());
        sb.AppendLine();
        sb.AppendLine("Goal columns: CMap's margin in percentage points, object / byte hit ratio; a goal is met (✓) only when it holds for both.").AppendLine();
        foreach ((string goal, int met, int applicable) in report.GoalSummary())
        {
            Line(sb, $"- {goal}: met in **{met} of {applicable}** cells.");
        }

        foreach (string failure in report.Failures())
        {
            sb.Append("- ").AppendLine(failure);
        }

        sb.AppendLine().AppendLine("## CMap's own figures").AppendLine();
        Table(sb, RunReport.DetailHeader, report.DetailRows());
        sb.AppendLine().AppendLine("## Charts (object hit ratio, %)").AppendLine();
        foreach (double percent in o.SizePercents)
        {
            Chart(sb, report, percent);
        }

        sb.AppendLine("## Per-cell notes").AppendLine();
        foreach (Cell cell in report.Cells)
        {
            Line(sb, $"- **{cell.Trace} at {cell.SizePercent}%** ({Format.Bytes(cell.BudgetBytes)}): {cell.TraceDescription}; {Format.Count(cell.DistinctKeys)} distinct keys, {Format.Bytes(cell.DistinctBytes)}, mean entry {cell.MeanEntryBytes:0} B.");
            foreach (CacheRun run in cell.Runs)
            {
                Line(sb, $"  - {CacheCatalog.Title(run.Cache)} ({run.Seconds:0.0} s): {(run.Ok ? run.Configuration + "; " + run.Notes : "failed: " + run.Error)}");
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// A horizontal mermaid bar chart of one cache size: one bar per trace and cache (mermaid draws several bar series
    /// on top of each other and has no legend, so every bar is its own labelled category).
    /// </summary>
    private static void Chart(StringBuilder sb, RunReport report, double percent)
    {
        var labels = new List<string>();
        var values = new List<string>();
        foreach (Cell cell in report.Cells.Where(c => c.SizePercent == percent))
        {
            foreach (string cache in report.Options.Caches)
            {
                labels.Add(Format.Invariant($"\"{cell.Trace} {CacheCatalog.Title(cache)}\""));
                values.Add(cell.Run(cache) is { } run ? Format.Invariant($"{100 * run.ObjectHitRatio:0.0}") : "0");
            }
        }

        if (labels.Count == 0)
        {
            return;
        }

        sb.AppendLine("```mermaid").AppendLine("xychart-beta horizontal");
        Line(sb, $"    title \"Object hit ratio at {percent}% of distinct bytes\"");
        sb.Append("    x-axis [").AppendJoin(", ", labels).AppendLine("]");
        sb.AppendLine("    y-axis \"object hit ratio (%)\" 0 --> 100");
        sb.Append("    bar [").AppendJoin(", ", values).AppendLine("]");
        sb.AppendLine("```").AppendLine();
    }

    private static void Table(StringBuilder sb, string[] header, IEnumerable<string[]> rows)
    {
        sb.Append("| ").AppendJoin(" | ", header).AppendLine(" |");
        sb.Append('|').AppendJoin("", header.Select(_ => "---|")).AppendLine();
        foreach (string[] row in rows)
        {
            sb.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
        }
    }

    private static void Line(StringBuilder sb, FormattableString text) => sb.AppendLine(Format.Invariant(text));
}
