using System;
using CMap.Bench;
using CMap.HitRatio.Caches;

namespace CMap.HitRatio;

internal enum GoalState
{
    Met,
    NotMet,
    NotApplicable,
}

/// <summary>One goal in one cell: its state and a short text (the margin in percentage points, object / byte).</summary>
internal sealed record GoalResult(GoalState State, string Text)
{
    public static GoalResult NotApplicable { get; } = new(GoalState.NotApplicable, "–");

    public string Mark => State switch
    {
        GoalState.Met => "✓",
        GoalState.NotMet => "✗",
        _ => "",
    };

    public string Display => State == GoalState.NotApplicable ? Text : $"{Mark} {Text}";
}

/// <summary>
/// The issue's goals, checked per cell on both the object and the byte hit ratio (a goal is met only if it holds for
/// both): CMap ≥ the exact LRU on every trace; CMap no more than 2 points below ConcurrentLfu on the Zipf traces;
/// CMap ahead of MemoryCache everywhere (a tie is not ahead); CMap's peak native bytes ≤ 1.05 × the budget. Where CMap
/// ran several times, the ratios are its median run's and the peak is the highest of all its runs.
/// </summary>
internal static class Goals
{
    public const double LfuTolerance = 0.02;
    public const double MaxPeakRatio = 1.05;

    public static readonly string[] Names = ["CMap ≥ LRU", "CMap ≥ LFU − 2 pt (Zipf)", "CMap > MemoryCache", "peak native ≤ 1.05 × budget"];

    public static GoalResult[] Evaluate(Cell cell) => [VersusLru(cell), VersusLfu(cell), VersusMemoryCache(cell), Peak(cell)];

    public static GoalResult VersusLru(Cell cell) => Compare(cell, CacheCatalog.ExactLru, 0, strict: false);

    public static GoalResult VersusLfu(Cell cell) =>
        cell.IsZipf ? Compare(cell, CacheCatalog.ConcurrentLfu, LfuTolerance, strict: false) : GoalResult.NotApplicable;

    public static GoalResult VersusMemoryCache(Cell cell) => Compare(cell, CacheCatalog.MemoryCache, 0, strict: true);

    public static GoalResult Peak(Cell cell)
    {
        if (cell.WorstPeakRatio is not double peak)
        {
            return GoalResult.NotApplicable;
        }

        return new GoalResult(peak <= MaxPeakRatio ? GoalState.Met : GoalState.NotMet, Format.Invariant($"{peak:0.000}"));
    }

    /// <summary>Points by which CMap leads <paramref name="peer"/>, object then byte hit ratio.</summary>
    public static (double Object, double Byte)? Margin(Cell cell, string peer) =>
        cell.Run(CacheCatalog.CMap) is { } c && cell.Run(peer) is { } p
            ? (100 * (c.ObjectHitRatio - p.ObjectHitRatio), 100 * (c.ByteHitRatio - p.ByteHitRatio))
            : null;

    private static GoalResult Compare(Cell cell, string peer, double tolerance, bool strict)
    {
        if (Margin(cell, peer) is not { } m)
        {
            return GoalResult.NotApplicable;
        }

        // Margins are compared in points, rounded to 0.01 pt, so that float noise never decides a tie.
        double o = Math.Round(m.Object, 2), b = Math.Round(m.Byte, 2), t = 100 * tolerance;
        bool met = strict ? o > -t && b > -t : o >= -t && b >= -t;
        string text = Format.Invariant($"{Signed(m.Object)} / {Signed(m.Byte)}");
        if (strict && !met && o == 0 && b == 0)
        {
            text += " (tie)";
        }

        return new GoalResult(met ? GoalState.Met : GoalState.NotMet, text);
    }

    private static string Signed(double points) => Format.Invariant($"{(points >= 0.005 ? "+" : "")}{points:0.00}");
}
