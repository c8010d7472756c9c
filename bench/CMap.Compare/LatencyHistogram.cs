using System;
using System.Diagnostics;
using System.Numerics;

namespace CMap.Compare;

/// <summary>
/// A log-linear latency histogram in the style of HdrHistogram, in nanoseconds. Values below 128 ns get a bucket
/// each; above that, every power-of-two range [2^k, 2^(k+1)) is split into 64 equal buckets, so a bucket is never
/// wider than 1/64 (1.6 %) of the values it holds. Values from 0 up to 2^37 ns (about 137 s) are tracked; larger
/// ones land in the last bucket, while <see cref="Max"/> stays exact. Not thread-safe: give each thread its own
/// instance and <see cref="Add"/> them together afterwards.
/// </summary>
internal sealed class LatencyHistogram
{
    /// <summary>log2 of the buckets per power-of-two range.</summary>
    internal const int SubBucketBits = 6;

    /// <summary>The largest value tracked to bucket precision: 2^37 - 1 ns.</summary>
    internal const long HighestTrackable = (1L << 37) - 1;

    private const int SubBucketCount = 1 << SubBucketBits;

    private static readonly double s_nanosPerTick = 1e9 / Stopwatch.Frequency;

    private readonly long[] _counts = new long[BucketIndex(HighestTrackable) + 1];
    private long _total;
    private long _max;
    private long _min = long.MaxValue;
    private double _sum;

    /// <summary>Number of values recorded.</summary>
    public long TotalCount => _total;

    /// <summary>Largest value recorded, exact; 0 when empty.</summary>
    public long Max => _max;

    /// <summary>Smallest value recorded, exact; 0 when empty.</summary>
    public long Min => _total == 0 ? 0 : _min;

    /// <summary>Mean of the values recorded, exact; 0 when empty.</summary>
    public double Mean => _total == 0 ? 0 : _sum / _total;

    internal static int BucketCount => BucketIndex(HighestTrackable) + 1;

    /// <summary>Converts a difference of <see cref="Stopwatch.GetTimestamp"/> readings to nanoseconds.</summary>
    public static long ToNanoseconds(long ticks) => (long)(ticks * s_nanosPerTick);

    /// <summary>Records one value in nanoseconds; negative values count as 0.</summary>
    public void Record(long nanoseconds)
    {
        long v = Math.Max(0, nanoseconds);
        _counts[BucketIndex(Math.Min(v, HighestTrackable))]++;
        _total++;
        _sum += v;
        _max = Math.Max(_max, v);
        _min = Math.Min(_min, v);
    }

    /// <summary>
    /// Corrects for coordinated omission the way HdrHistogram does: a caller that issues a request every
    /// <paramref name="expectedInterval"/> would have had requests waiting behind one that took
    /// <paramref name="nanoseconds"/>; this records their latencies (value − k × interval, for each k while it is at
    /// least the interval). The measured value itself is not recorded here.
    /// </summary>
    public void RecordOmitted(long nanoseconds, long expectedInterval)
    {
        if (expectedInterval <= 0)
        {
            return;
        }

        for (long missing = nanoseconds - expectedInterval; missing >= expectedInterval; missing -= expectedInterval)
        {
            Record(missing);
        }
    }

    /// <summary>Adds every value recorded in <paramref name="other"/> to this histogram.</summary>
    public void Add(LatencyHistogram other)
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        _total += other._total;
        _sum += other._sum;
        _max = Math.Max(_max, other._max);
        _min = Math.Min(_min, other._min);
    }

    /// <summary>
    /// The value at <paramref name="percentile"/> (0 to 100): the highest value of the bucket holding the
    /// ceil(p / 100 × count)-th smallest value, capped at <see cref="Max"/>. 0 when empty.
    /// </summary>
    public long ValueAtPercentile(double percentile)
    {
        if (_total == 0)
        {
            return 0;
        }

        long rank = Math.Clamp((long)Math.Ceiling(percentile / 100.0 * _total), 1, _total);
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(BucketHighest(i), _max);
            }
        }

        return _max;
    }

    /// <summary>The bucket that holds <paramref name="value"/> (0 to <see cref="HighestTrackable"/>).</summary>
    internal static int BucketIndex(long value)
    {
        // Values below 2^(SubBucketBits+1) map to themselves; above, keep the top SubBucketBits+1 bits.
        int shift = Math.Max(0, 63 - BitOperations.LeadingZeroCount((ulong)value | 1) - SubBucketBits);
        return (shift * SubBucketCount) + (int)(value >> shift);
    }

    /// <summary>The smallest value that maps to bucket <paramref name="index"/>.</summary>
    internal static long BucketLowest(int index)
    {
        int shift = Math.Max(0, (index / SubBucketCount) - 1);
        long sub = index - (shift * SubBucketCount);
        return sub << shift;
    }

    /// <summary>The largest value that maps to bucket <paramref name="index"/>.</summary>
    internal static long BucketHighest(int index)
    {
        int shift = Math.Max(0, (index / SubBucketCount) - 1);
        long sub = index - (shift * SubBucketCount);
        return ((sub + 1) << shift) - 1;
    }
}
