using System;
using System.Diagnostics;
using BenchmarkDotNet.Attributes;

namespace CMap.Benchmarks;

/// <summary>
/// What a clock read costs, for expiry: <see cref="Stopwatch.GetTimestamp"/> (the baseline) against
/// <see cref="TimeProvider.System"/>'s <see cref="TimeProvider.GetTimestamp"/> (what CMap's expiry reads, a Stopwatch
/// read behind a virtual call) and <see cref="TimeProvider.GetUtcNow"/> (a wall-clock read, what MemoryCache-style
/// expiry reads). <see cref="ProviderFieldGetTimestamp"/> calls through an instance field typed
/// <see cref="TimeProvider"/>, as CMap's expiry clock holds it (the JIT cannot see it is the system provider).
/// Each invocation reads the clock <see cref="Reads"/> times (OperationsPerInvoke), so the time is per read.
/// </summary>
[MemoryDiagnoser]
public class ClockBenchmarks
{
    public const int Reads = 1024;

    private readonly TimeProvider _provider = TimeProvider.System;

    [Benchmark(Baseline = true, OperationsPerInvoke = Reads)]
    public long StopwatchGetTimestamp()
    {
        long sum = 0;
        for (int i = 0; i < Reads; i++)
        {
            sum += Stopwatch.GetTimestamp();
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Reads)]
    public long SystemGetTimestamp()
    {
        long sum = 0;
        for (int i = 0; i < Reads; i++)
        {
            sum += TimeProvider.System.GetTimestamp();
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Reads)]
    public long ProviderFieldGetTimestamp()
    {
        TimeProvider provider = _provider;
        long sum = 0;
        for (int i = 0; i < Reads; i++)
        {
            sum += provider.GetTimestamp();
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Reads)]
    public long SystemGetUtcNow()
    {
        long sum = 0;
        for (int i = 0; i < Reads; i++)
        {
            sum += TimeProvider.System.GetUtcNow().UtcTicks;
        }

        return sum;
    }
}
