using System;
using System.Collections.Generic;
using System.Linq;
using CMap.Bench;
using CMap.HitRatio.Caches;

namespace CMap.HitRatio.Reporting;

/// <summary>A finished run, and the tables both reports print from it (so the console and the markdown agree).</summary>
internal sealed record RunReport(HitRatioOptions Options, IReadOnlyList<Cell> Cells, TimeSpan Elapsed)
{
    public DateTimeOffset Finished { get; } = DateTimeOffset.UtcNow;

    /// <summary>The main table's header: the cell, each cache's object / byte hit ratio, then the goals.</summary>
    public string[] MainHeader() =>
    [
        "Trace", "Size", "Budget",
        .. Options.Caches.Select(c => CacheCatalog.Title(c) + " obj / byte %"),
        .. Goals.Names,
    ];

    public IEnumerable<string[]> MainRows() => Cells.Select(cell =>
        (string[])
        [
            cell.Trace,
            Format.Invariant($"{cell.SizePercent}%"),
            Format.Bytes(cell.BudgetBytes),
            .. Options.Caches.Select(c => RatioText(cell, c)),
            .. Goals.Evaluate(cell).Select(g => g.Display),
        ]);

    public static string[] DetailHeader { get; } =
        ["Trace", "Size", "Shards", "Entries", "Evictions", "Mean native / budget", "Mean live / budget", "Peak native / budget (all runs)", "Native at end", "Dead", "Slack", "Index", "Oversize", "Map hits / misses"];

    public IEnumerable<string[]> DetailRows() => Cells
        .Select(cell => (Cell: cell, Detail: cell.Run(CacheCatalog.CMap)?.CMap))
        .Where(x => x.Detail is not null)
        .Select(x =>
        {
            CMapDetail d = x.Detail!;
            CMapStatistics e = d.End;
            return (string[])
            [
                x.Cell.Trace,
                Format.Invariant($"{x.Cell.SizePercent}%"),
                Format.Count(d.Shards),
                Format.Count(e.Count),
                Format.Count(e.Evictions),
                Format.Invariant($"{d.MeanNativeRatio:0.000}"),
                Format.Invariant($"{d.MeanLiveRatio:0.000}"),
                Format.Invariant($"{x.Cell.WorstPeakRatio:0.000}"),
                Format.Bytes(e.NativeBytes),
                Format.Bytes(e.DeadBytes),
                Format.Bytes(e.SlackBytes),
                Format.Bytes(e.IndexBytes),
                Format.Bytes(e.OversizeBytes),
                Format.Invariant($"{Format.Count(e.Hits)} / {Format.Count(e.Misses)}"),
            ];
        });

    /// <summary>Per goal: cells where it was met, of those where it applies.</summary>
    public IEnumerable<(string Goal, int Met, int Applicable)> GoalSummary()
    {
        GoalResult[][] all = Cells.Select(Goals.Evaluate).ToArray();
        for (int g = 0; g < Goals.Names.Length; g++)
        {
            int met = all.Count(r => r[g].State == GoalState.Met);
            int applicable = all.Count(r => r[g].State != GoalState.NotApplicable);
            yield return (Goals.Names[g], met, applicable);
        }
    }

    public IEnumerable<string> Failures() => Cells.SelectMany(cell => cell.Runs.Where(r => !r.Ok).Select(r => Format.Invariant($"{cell.Trace} at {cell.SizePercent}%: {CacheCatalog.Title(r.Cache)} failed: {r.Error}")));

    /// <summary>Object / byte hit ratio in %; for several runs the median run's, then the object ratio's min–max.</summary>
    private static string RatioText(Cell cell, string cache)
    {
        if (cell.Run(cache) is not { } run)
        {
            return cell.Runs.Any(r => r.Cache == cache) ? "failed" : "–";
        }

        string text = Format.Invariant($"{100 * run.ObjectHitRatio:0.00} / {100 * run.ByteHitRatio:0.00}");
        IReadOnlyList<CacheRun> all = cell.RunsOf(cache);
        return all.Count < 2 ? text : text + Format.Invariant($" ({100 * all.Min(r => r.ObjectHitRatio):0.0}–{100 * all.Max(r => r.ObjectHitRatio):0.0})");
    }
}
