using System;
using CMap.HitRatio.Traces;

namespace CMap.HitRatio.Caches;

/// <summary>
/// One bounded cache as the trace sees it: a request looks its key up and, on a miss, inserts it. Used by one thread.
/// </summary>
internal interface ISimulatedCache : IDisposable
{
    /// <summary>How the cache was bounded, for the report.</summary>
    string Configuration { get; }

    /// <summary>Looks up key <paramref name="id"/>; on a miss inserts it with its value. True on a hit.</summary>
    bool Access(int id, int valueSize);

    /// <summary>What the cache reports about itself after the trace (empty when nothing).</summary>
    string Notes();
}

/// <summary>
/// What a cache is sized from: its byte budget, and the trace's mean entry size for count-bounded caches; and how CMap
/// reads (<see cref="ZeroCopyReads"/>: TryRead instead of TryGet into a buffer).
/// </summary>
internal sealed record CacheContext(long BudgetBytes, double MeanEntryBytes, KeySpace Keys, ulong Seed, bool ZeroCopyReads)
{
    /// <summary>The entry capacity of a count-bounded cache: budget ÷ mean key + value bytes (at least 3).</summary>
    public int EntryCapacity => (int)Math.Clamp(BudgetBytes / Math.Max(1, MeanEntryBytes), 3, int.MaxValue / 2);
}
