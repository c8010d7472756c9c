using System.Threading;
using BenchmarkDotNet.Attributes;

namespace CMap.Benchmarks;

/// <summary>
/// What one uncontended take-and-release of a shard's writer lock costs, one thread, 1,024 pairs per invocation:
/// <see cref="Lock"/> (what shards used before f5f649b) against CMap's own <see cref="ShardLock"/> (a compare-and-swap
/// to take, an interlocked exchange to release: docs/concurrency.md, L1), and against the same compare-and-swap with a
/// plain-store release, the cheaper form the linearizability checker rejected (written out here: ShardLock has no such
/// mode). Not a store benchmark: the baseline is
/// <see cref="Lock"/>.
/// </summary>
[MemoryDiagnoser]
public class LockBenchmarks
{
    private const int Pairs = 1024;

    private readonly Lock _lock = new();
    private ShardLock _shardLock; // a struct, used in place
    private int _word;
    private long _counter;

    [Benchmark(Baseline = true, OperationsPerInvoke = Pairs)]
    public long SystemThreadingLock()
    {
        for (int i = 0; i < Pairs; i++)
        {
            using (_lock.EnterScope())
            {
                _counter++;
            }
        }

        return _counter;
    }

    [Benchmark(OperationsPerInvoke = Pairs)]
    public long CompareAndSwapThenExchange()
    {
        for (int i = 0; i < Pairs; i++)
        {
            using (_shardLock.EnterScope())
            {
                _counter++;
            }
        }

        return _counter;
    }

    [Benchmark(OperationsPerInvoke = Pairs)]
    public long CompareAndSwapThenPlainStore()
    {
        for (int i = 0; i < Pairs; i++)
        {
            if (Interlocked.CompareExchange(ref _word, 1, 0) == 0)
            {
                _counter++;
                Volatile.Write(ref _word, 0);
            }
        }

        return _counter;
    }
}
