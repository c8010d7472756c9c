using System;

namespace CMap.Benchmarks.Infrastructure;

/// <summary>
/// Zipf(s) over ranks 0..n-1 (rank 0 most popular; P(rank r) ∝ 1 / (r + 1)^s), sampled by inverse CDF over a
/// precomputed cumulative table and a binary search. Only used in [GlobalSetup] to precompute index sequences.
/// s = 0.86 matches BitFaster.Caching's hit-rate and throughput benchmarks.
/// </summary>
internal sealed class ZipfSampler
{
    private readonly double[] _cdf;

    public ZipfSampler(int n, double s)
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

    public int Sample(Random rng)
    {
        double u = rng.NextDouble();
        int i = Array.BinarySearch(_cdf, u);
        if (i < 0)
        {
            i = ~i;
        }

        return Math.Min(i, _cdf.Length - 1);
    }
}
