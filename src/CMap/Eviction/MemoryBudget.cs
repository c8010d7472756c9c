using CMap.Buffer;

namespace CMap;

/// <summary>
/// A map's byte budget (<see cref="CMapConfig.MaxBytes"/>), shared by its shards as part of their settings. It
/// measures what the map's arena holds, the one count of every native byte the map owns. Memory retired but not yet
/// freed is not something eviction can act on (it leaves as soon as readers move on, or is held back by a reader
/// parked in a callback), so eviction decisions use the settled bytes: held minus pending.
/// </summary>
internal sealed class MemoryBudget
{
    private readonly NativeArena _arena;
    private readonly RetireList _retired;

    internal MemoryBudget(long limit, MapMemory memory)
    {
        Limit = limit;
        _arena = memory.Arena;
        _retired = memory.Retired;
        // 98% and 96%: every byte under the budget the map leaves unused is a byte not caching. The gap between the two
        // is what a background pass frees at once; the 2% above is what writers may add before it starts.
        EvictAbove = limit - (limit / 50);
        EvictTo = limit - (limit / 25);
        MaxEntryBytes = limit / 4;
    }

    /// <summary>The budget in bytes.</summary>
    internal long Limit { get; }

    /// <summary>Background eviction starts once settled bytes pass this: 98% of the budget.</summary>
    internal long EvictAbove { get; }

    /// <summary>A background eviction pass stops once settled bytes are back at this: 96% of the budget.</summary>
    internal long EvictTo { get; }

    /// <summary>The largest entry (header, key and value) a write may store: a quarter of the budget.</summary>
    internal long MaxEntryBytes { get; }

    /// <summary>Every native byte the map holds now.</summary>
    internal long HeldBytes => _arena.OutstandingBytes;

    /// <summary>Held bytes less those retired and waiting for readers: what eviction can still reduce.</summary>
    internal long SettledBytes => _arena.OutstandingBytes - _retired.PendingBytes;

    /// <summary>True when background eviction should run.</summary>
    internal bool NeedsEviction => SettledBytes > EvictAbove;

    /// <summary>
    /// True when the held bytes plus the <paramref name="incoming"/> bytes of a write about to happen would pass the
    /// budget: the writer then frees what readers no longer hold, and evicts inline if that is not enough. One load
    /// of the arena's count on every write of a budgeted map.
    /// </summary>
    internal bool IsOver(long incoming) => _arena.OutstandingBytes + incoming > Limit;

    /// <summary>
    /// True when the compactor has fallen behind: settled bytes plus the <paramref name="incoming"/> bytes of the
    /// write about to happen would pass the budget itself, so the writer evicts inline from its own shard before it
    /// writes (it never waits for the compactor).
    /// </summary>
    internal bool MustEvictInline(long incoming) => SettledBytes + incoming > Limit;
}
