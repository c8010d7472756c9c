using System;
using System.Diagnostics;
using HdrHistogram;

namespace CMap.Bench;

/// <summary>Latency histograms for every tool in bench/: HdrHistogram in nanoseconds, timed with <see cref="Stopwatch"/>.</summary>
public static class Latency
{
    /// <summary>The largest value tracked: 10 minutes in nanoseconds; a longer one is recorded as this.</summary>
    public const long HighestTrackableNanoseconds = 600_000_000_000;

    /// <summary>Three significant digits: each value is within 0.1 % of what was recorded.</summary>
    public const int SignificantDigits = 3;

    private static readonly double s_nanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    /// <summary>An empty histogram from 1 ns to <see cref="HighestTrackableNanoseconds"/>. Not thread-safe: one per thread, then <see cref="HistogramBase.Add"/>.</summary>
    public static LongHistogram NewHistogram() => new(1, HighestTrackableNanoseconds, SignificantDigits);

    /// <summary>A difference of <see cref="Stopwatch.GetTimestamp"/> readings in nanoseconds.</summary>
    public static long ToNanoseconds(long ticks) => (long)(ticks * s_nanosecondsPerTick);

    /// <summary>Nanoseconds since <paramref name="startTimestamp"/>, clamped to what a histogram tracks.</summary>
    public static long Since(long startTimestamp) => Clamp(ToNanoseconds(Stopwatch.GetTimestamp() - startTimestamp));

    /// <summary><paramref name="nanoseconds"/> within [0, <see cref="HighestTrackableNanoseconds"/>].</summary>
    public static long Clamp(long nanoseconds) => Math.Clamp(nanoseconds, 0, HighestTrackableNanoseconds);
}
