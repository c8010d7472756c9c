using System;

namespace CMap.Bench;

/// <summary>
/// Zipf(s) over ranks 0..n-1 (rank 0 most popular; P(rank r) ∝ 1 / (r + 1)^s), sampled exactly by inverse CDF over a
/// precomputed cumulative table and a binary search. Shared by the BenchmarkDotNet workloads (s = 0.86, as
/// BitFaster.Caching's benchmarks) and the hit-ratio traces.
/// </summary>
public sealed class ZipfTable
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

    /// <summary>The rank a uniform draw <paramref name="u"/> in [0, 1) maps to.</summary>
    public int Sample(double u)
    {
        int i = Array.BinarySearch(_cdf, u);
        return Math.Min(i < 0 ? ~i : i, _cdf.Length - 1);
    }
}
