using System;
using System.Collections.Generic;
using System.Linq;
using CMap.Bench;
using CMap.Bench.Stores;

namespace CMap.Compare;

internal sealed record TableRow(string Label, IReadOnlyList<string> Cells);

internal sealed record TableSection(string Title, IReadOnlyList<string> Columns, IReadOnlyList<TableRow> Rows);

/// <summary>The summary of a run as rows of metrics by columns of stores, for the console and for report.md.</summary>
internal static class ResultTable
{
    /// <summary>A headline ratio whose min or max over rounds strays further than this from its median is marked.</summary>
    public const double RepeatableWithin = 0.10;

    public const string Missing = "—";

    public const string Unsteady = " ⚠";

    /// <summary>Every figure: the median over rounds, and the larger distance to the min or max in percent.</summary>
    public static IReadOnlyList<TableSection> Figures(RunResult run) =>
        Metrics.Sections(run).Select(section => new TableSection(
            section.Title,
            run.Stores,
            section.Metrics.Select(m => new TableRow(m.Label, run.Stores.Select(s => FigureCell(Figure(run, m, s)?.Value, m.Format, run.Rounds)).ToArray())).ToArray()))
            .ToArray();

    /// <summary>The ratios to the baseline: median (min–max) over rounds, marked where the spread passes ±10 %.</summary>
    public static TableSection Ratios(RunResult run)
    {
        string[] stores = run.Stores.Where(s => s != StoreCatalog.Baseline).ToArray();
        return new TableSection(
            Format.Invariant($"Ratios vs {StoreCatalog.Baseline} (the baseline): median (min–max) of the per-round ratios over {run.Rounds} round{(run.Rounds == 1 ? "" : "s")}"),
            stores,
            RatioMetrics(run).Select(m => new TableRow(
                (m.Headline ? "" : "  ") + m.LabelWithDirection,
                stores.Select(s => RatioCell(Figure(run, m, s)?.Ratio, run.Rounds)).ToArray())).ToArray());
    }

    /// <summary>The metrics reported as ratios: the headline ones first, each group in section order.</summary>
    public static IEnumerable<Metric> RatioMetrics(RunResult run) =>
        Metrics.Sections(run).SelectMany(s => s.Metrics).Where(m => m.Ratio).OrderBy(m => m.Headline ? 0 : 1);

    public static StoreFigure? Figure(RunResult run, Metric metric, string store) =>
        run.Summary.FirstOrDefault(m => m.Id == metric.Id)?.Stores.FirstOrDefault(f => f.Store == store);

    public static string FigureCell(Spread? value, Func<double, string> format, int rounds)
    {
        if (value is null)
        {
            return Missing;
        }

        string cell = format(value.Median);
        return rounds > 1 && value.RelativeSpread >= 0.005 ? Format.Invariant($"{cell} ±{value.RelativeSpread * 100:0}%") : cell;
    }

    public static string RatioCell(Spread? ratio, int rounds)
    {
        if (ratio is null)
        {
            return Missing;
        }

        if (rounds == 1 || ratio.Values.Count == 1)
        {
            return Format.Ratio(ratio.Median);
        }

        string cell = Format.Invariant($"{Format.Ratio(ratio.Median)} ({Range(ratio)})");
        return ratio.RelativeSpread > RepeatableWithin ? cell + Unsteady : cell;
    }

    /// <summary>"0.75–0.83" for a ratio's min and max (without the × sign, which the median carries).</summary>
    public static string Range(Spread ratio) => $"{Format.Ratio(ratio.Min).TrimEnd('×')}–{Format.Ratio(ratio.Max).TrimEnd('×')}";
}
