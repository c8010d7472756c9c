using System;
using BitFaster.Caching.Lru;
using CMap.Bench;

namespace CMap.HitRatio.Caches;

/// <summary>
/// BitFaster.Caching's <see cref="ConcurrentLru{K, V}"/> (2.6.1; hot, warm and cold queues, default partition).
/// Bounded by entry count, so it gets budget ÷ the trace's mean entry size entries; it stores the value size only,
/// as a cache of references to shared arrays would.
/// </summary>
internal sealed class ConcurrentLruCache : ISimulatedCache
{
    private readonly ConcurrentLru<int, int> _cache;

    public ConcurrentLruCache(CacheContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int capacity = context.EntryCapacity;
        _cache = new ConcurrentLru<int, int>(capacity);
        Configuration = Format.Invariant($"ConcurrentLru<int, int>, capacity {Format.Count(capacity)} entries (budget ÷ mean entry {context.MeanEntryBytes:0} B)");
    }

    public string Configuration { get; }

    public bool Access(int id, int valueSize)
    {
        if (_cache.TryGet(id, out _))
        {
            return true;
        }

        _cache.AddOrUpdate(id, valueSize);
        return false;
    }

    public string Notes() => Format.Invariant($"{Format.Count(_cache.Count)} entries");

    public void Dispose()
    {
    }
}
