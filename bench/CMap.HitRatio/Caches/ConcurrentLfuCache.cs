using System;
using System.Collections.Generic;
using BitFaster.Caching.Lfu;
using BitFaster.Caching.Scheduler;
using CMap.Bench;

namespace CMap.HitRatio.Caches;

/// <summary>
/// BitFaster.Caching's <see cref="ConcurrentLfu{K, V}"/> (2.6.1; W-TinyLFU: a count-min sketch admits entries from a
/// small LRU window into a segmented LRU). Bounded by entry count: budget ÷ the trace's mean entry size. Built with a
/// <see cref="ForegroundScheduler"/>, as BitFaster's own hit-rate analysis does: its maintenance (draining the read and
/// write buffers into the policy) runs on the calling thread, so no buffered read is dropped for want of a background
/// pass and the figure does not depend on thread timing. It stores the value size only.
/// </summary>
internal sealed class ConcurrentLfuCache : ISimulatedCache
{
    private readonly ConcurrentLfu<int, int> _cache;

    public ConcurrentLfuCache(CacheContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int capacity = context.EntryCapacity;
        _cache = new ConcurrentLfu<int, int>(1, capacity, new ForegroundScheduler(), EqualityComparer<int>.Default);
        Configuration = Format.Invariant($"ConcurrentLfu<int, int>, capacity {Format.Count(capacity)} entries (budget ÷ mean entry {context.MeanEntryBytes:0} B), ForegroundScheduler");
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

    public string Notes()
    {
        _cache.DoMaintenance();
        return Format.Invariant($"{Format.Count(_cache.Count)} entries");
    }

    public void Dispose()
    {
    }
}
