using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// One shard: an index table and a log of chunks. Readers go through the one read core (<see cref="Read{TConsumer}"/>)
/// inside the map's epoch region and take no lock; every write goes through the one write path
/// (<c>Write</c>) under <see cref="_lock"/> (the <c>*Unsynchronized</c> members expect the caller to
/// hold it). A shard is given its settings (the map's memory among them) and knows nothing of the map that owns it. Invariants I1–I8
/// are in docs/concurrency.md.
/// <para>
/// A mutable struct, an element of the map's one shard array, so that a full GC marks one array instead of an object per
/// shard. It is never copied: every access is by <c>ref</c> (a copy would have its own lock, table pointer and
/// counters). No raw pointer to a field is ever taken (the GC may move the array; a <c>ref</c> moves with it).
/// </para>
/// </summary>
internal unsafe partial struct Shard
{
    // Not re-entrant, and no user code ever runs while it is held (a write from inside a read callback of the same
    // map takes it on a thread that holds none). Embedded, padded to a cache line of its own [L1].
    private ShardLock _lock;

    // The shard's managed references that are set, kept to two on purpose (a budget adds _ghost and _keptInPlace, null
    // without one): a forced full GC visits every reference field of every
    // shard (a 10 M-entry map has 1,024 shards in its array), each at a cost (docs/benchmarks.md, the 10 M-entry GC); everything shared by the map's
    // shards (the memory, the clock, the budget) is reached through the settings. The epoch is the read path's, so
    // it is one load away.
    private readonly ShardSettings _settings;
    private readonly EpochDomain _epoch;

    // With a byte budget, reads mark the entries they hit and the log has two eviction regions (read on every hit).
    private readonly bool _budgeted;
    private readonly int _largeEntryShift; // [I8] ShardSettings.LargeEntryShift, read on every append

    // [I2] Current index table. Written only under _lock, with Volatile.Write after the table is fully built;
    // read by lock-free readers with Volatile.Read. A retired table stays readable until its grace period ends.
    private nint _table;

    // Writer state, all under _lock.
    private ChunkList _chunks;
    private Chunk _tail;     // where users' writes go (with a budget: the probation region's tail)
    private Chunk _mainTail; // with a budget: the main region's tail (second chances, ghost readmissions)
    private int _seals; // tails sealed so far: a chunk's age is _seals - its SealedAt
    private int _sizeClass;
    private BlockList _probationBlocks; // blocks of one large entry each [I8]; the only list without a budget
    private BlockList _mainBlocks;
    private GhostSet? _ghost;
    private bool _disposed;

    // The capacity CMapConfig.InitialCapacity asked for: shrinking never goes below it. Set once.
    private readonly long _minCapacity;

    // Accounting. Written under _lock; read racily (Volatile.Read) by statistics. Exact whenever _lock is free.
    private long _count;
    private long _liveBytes;
    private long _deadBytes;  // entries no word points at (what compaction reclaims)
    private long _slackBytes; // unused ends of sealed chunks (tail waste), counted apart from dead entries
    private long _chunkBytes;
    private long _oversizeBytes;
    private long _indexBytes;
    private long _rebuilds;
    private long _mainBytes; // with a budget: bytes of the main region's chunks and blocks

    // Why entries left. Written under _lock; read racily by statistics; exact whenever _lock is free.
    private long _evictions;
    private long _expirations;
    private long _removals;

    // Compaction, eviction and expiry state (used in Shard.Compaction.cs, Shard.Eviction.cs and Shard.Expiry.cs; a
    // struct keeps all its fields in one declaration, so its layout has one home).
    // 1 once this shard asked the scheduler for a pass and the pass has not yet taken the request. Set by writers
    // under _lock; cleared by the compactor with Interlocked.Exchange (no lock).
    private int _compactionRequested;
    // [C2] Bumped under _lock by Clear and Dispose. A compactor re-checks it at every batch: if it moved, the
    // chunk it was working on has been retired and must not be touched again.
    private long _generation;
    // Compaction counters. Written by the compactor under _lock; read racily (Volatile) by statistics.
    private long _chunksCompacted;
    private long _bytesMoved;
    private long _bytesReclaimed;
    private long _maxBytesCopiedUnderLock;
    private long _largeMovesOutsideLock;
    private long _largeMovesLostToWriters;
    // Reclaimable dead bytes must reach this before the shard asks again (writer, under _lock). Raised after every
    // pass to what was left plus one chunk, so a shard whose dead bytes a pass could not reduce (they sit in chunks
    // under the per-chunk ratio) does not ask again on every kill.
    private long _requestFloor;
    // Eviction counters beyond the reasons entries left: second chances given. Written under _lock.
    private long _secondChances;
    // Chunks an inline pass has already looked at and kept (they hold marked entries); under _lock, per pass.
    private System.Collections.Generic.List<Chunk>? _keptInPlace;
    // The least SweepAt of the shard's chunks and blocks: a lower bound on when an entry here next expires. Written
    // under _lock; read racily by the timer (a stale value only moves a sweep by one tick).
    private long _nextSweepAt = long.MaxValue;
    // 1 once the timer found this shard due and the sweep has not yet taken the request (Interlocked both sides).
    private int _sweepRequested;

    /// <summary>Builds an empty shard sized for <paramref name="initialEntries"/>; throws out-of-memory with nothing allocated.</summary>
    internal Shard(ShardSettings settings, long initialEntries)
    {
        _settings = settings;
        _epoch = settings.Memory.Epoch;
        _budgeted = settings.Budget is not null;
        _largeEntryShift = settings.LargeEntryShift;
        long cap = IndexTable.CapacityFor(initialEntries);
        _minCapacity = cap;
        _requestFloor = settings.CompactionMinDeadBytes;
        _table = (nint)IndexTable.Allocate(Arena, cap);
        _indexBytes = IndexTable.BytesFor(cap);
    }

    private NativeArena Arena => _settings.Memory.Arena;

    private ChunkPool Pool => _settings.Memory.Pool;

    private RetireList Retired => _settings.Memory.Retired;

    private ExpiryClock Clock => _settings.Clock;

    /// <summary>The byte budget, or null. When set, reads mark the entries they hit and the log has two eviction regions.</summary>
    private MemoryBudget? Budget => _settings.Budget;

    /// <summary>False for an element of the map's array that no constructor has filled (a constructor that failed partway).</summary>
    internal bool IsBuilt => _settings is not null;

    internal long Count => Volatile.Read(ref _count);

    internal long LiveBytes => Volatile.Read(ref _liveBytes);

    /// <summary>Bytes of dead entries: overwritten or deleted, not yet compacted away.</summary>
    internal long DeadBytes => Volatile.Read(ref _deadBytes);

    /// <summary>Unused ends of sealed chunks.</summary>
    internal long SlackBytes => Volatile.Read(ref _slackBytes);

    internal long ChunkBytes => Volatile.Read(ref _chunkBytes);

    internal long OversizeBytes => Volatile.Read(ref _oversizeBytes);

    internal long IndexBytes => Volatile.Read(ref _indexBytes);

    internal long Rebuilds => Volatile.Read(ref _rebuilds);

    /// <summary>Entries evicted to keep the map within its byte budget.</summary>
    internal long Evictions => Volatile.Read(ref _evictions);

    /// <summary>Entries removed because they expired (by a sweep, eviction, compaction or a write that found them).</summary>
    internal long Expirations => Volatile.Read(ref _expirations);

    /// <summary>Entries removed by a delete.</summary>
    internal long Removals => Volatile.Read(ref _removals);

    /// <summary>True when <paramref name="c"/> is one of the shard's tails (still being appended to).</summary>
    private bool IsTailUnsynchronized(Chunk c) => c == _tail || c == _mainTail;

    /// <summary>True when the chunk whose header is <paramref name="h"/> is one of the shard's tails.</summary>
    private bool IsTailUnsynchronized(ChunkHeader* h) => _tail.Header == h || _mainTail.Header == h;

    private void ThrowIfDisposedUnsynchronized()
    {
        if (_disposed)
        {
            ThrowHelper.ThrowObjectDisposed();
        }
    }

    public override string ToString() =>
        $"Shard(count={Count}, live={LiveBytes}, dead={DeadBytes}, slack={SlackBytes}, chunks={ChunkBytes}, oversize={OversizeBytes}, index={IndexBytes})";
}
