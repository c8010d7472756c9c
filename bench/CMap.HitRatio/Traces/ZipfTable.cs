using System;

namespace CMap.HitRatio.Traces;

/// <summary>
/// Zipf(s) over key numbers 0..n-1 (key 0 the most popular; P(k) ∝ 1 / (k + 1)^s), sampled exactly by inverse CDF
/// over a precomputed cumulative table and a binary search.
/// </summary>
internal sealed class ZipfTable
{
    private readonly double[] _cdf;

    public ZipfTable(int n, double s)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        _cdf = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += 1.0 / Math.Pow(i + 1, s);
            _cdf[i] = sum;
        }

        for (int i = 0; i < n; i++)
        {
            _cdf[i] /= sum;
        }

        _cdf[n - 1] = 1.0;
    }

    public int Sample(ref SplitMix64 random)
    {
        int i = Array.BinarySearch(_cdf, random.NextDouble());
        return Math.Min(i < 0 ? ~i : i, _cdf.Length - 1);
    }
}
