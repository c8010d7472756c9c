using System;
using System.Diagnostics;
using System.Reflection;
using System.Threading;
using CMap.Bench;
using CMap.HitRatio.Traces;
using Microsoft.Extensions.Caching.Memory;

namespace CMap.HitRatio.Caches;

/// <summary>
/// <see cref="MemoryCache"/> with <see cref="MemoryCacheOptions.SizeLimit"/> = the budget and each entry's Size = its
/// key + value bytes. An insert that would pass the limit is rejected (the entry is not stored: that is MemoryCache's
/// behaviour) and starts a background compaction down to (1 − CompactionPercentage) of the limit, removing the least
/// recently accessed entries. Quiesced: after each rejected insert this adapter waits (at most
/// <see cref="QuiesceTimeout"/>) until that compaction is done before the next request, so the figure does not depend
/// on how fast the thread pool ran it against the trace. It stores a shared object, not a value per entry.
/// </summary>
internal sealed class SizeLimitedMemoryCache : ISimulatedCache
{
    private static readonly TimeSpan s_quiesceTimeout = TimeSpan.FromSeconds(10);
    private static readonly object s_value = new();

    // MemoryCache's private "a compaction is queued or running" flag (10.0: lockFlag). Waiting for it too keeps the next
    // rejected insert from finding it still set, which would start no compaction. Absent in another version: size only.
    private static readonly FieldInfo? s_compactingFlag = typeof(MemoryCache).GetField("lockFlag", BindingFlags.Instance | BindingFlags.NonPublic);

    // MemoryCache's internal running size (10.0: the Size property), read without GetCurrentStatistics, which also
    // counts the entries (ConcurrentDictionary.Count takes every lock) and allocates. Absent: the statistics.
    private static readonly Func<MemoryCache, long>? s_size = typeof(MemoryCache)
        .GetProperty("Size", BindingFlags.Instance | BindingFlags.NonPublic)?.GetMethod?.CreateDelegate<Func<MemoryCache, long>>();

    private readonly MemoryCache _cache;
    private readonly long _limit;
    private readonly long _lowWatermark;
    private long _rejected;
    private long _compactions;
    private long _timeouts;
    private double _waitSeconds;

    public SizeLimitedMemoryCache(CacheContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = new MemoryCacheOptions { SizeLimit = context.BudgetBytes, TrackStatistics = true };
        _limit = context.BudgetBytes;
        _lowWatermark = _limit - (long)(_limit * options.CompactionPercentage);
        _cache = new MemoryCache(options);
        Configuration = Format.Invariant($"MemoryCache, SizeLimit {Format.Bytes(_limit)}, Size = key + value bytes, CompactionPercentage {options.CompactionPercentage}, quiesced after each rejected insert");
    }

    public static TimeSpan QuiesceTimeout => s_quiesceTimeout;

    public string Configuration { get; }

    public bool Access(int id, int valueSize)
    {
        object key = id;
        if (_cache.TryGetValue(key, out _))
        {
            return true;
        }

        long size = KeySpace.KeySize + valueSize;
        bool rejects = CurrentSize() + size > _limit;
        using (ICacheEntry entry = _cache.CreateEntry(key))
        {
            entry.Size = size;
            entry.Value = s_value;
        }

        if (rejects)
        {
            _rejected++;
            Quiesce();
        }

        return false;
    }

    public string Notes() => Format.Invariant(
        $"{Format.Count(_cache.Count)} entries, {Format.Bytes(CurrentSize())} of {Format.Bytes(_limit)}, {Format.Count(_rejected)} inserts rejected, {Format.Count(_compactions)} compactions waited for ({_waitSeconds:0.0} s), {_timeouts} waits timed out");

    public void Dispose() => _cache.Dispose();

    private long CurrentSize() => s_size?.Invoke(_cache) ?? _cache.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0;

    /// <summary>
    /// Waits for the compaction the rejected insert started: it ends with the size at or below the low watermark and
    /// MemoryCache's compaction flag clear.
    /// </summary>
    private void Quiesce()
    {
        long start = Stopwatch.GetTimestamp();
        var spin = default(SpinWait);
        while (CurrentSize() > _lowWatermark || s_compactingFlag?.GetValue(_cache) is 1)
        {
            if (Stopwatch.GetElapsedTime(start) > s_quiesceTimeout)
            {
                _timeouts++;
                break;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }

        _compactions++;
        _waitSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
