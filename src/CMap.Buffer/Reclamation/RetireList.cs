using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;

namespace CMap.Buffer;

/// <summary>
/// Memory a map has unpublished but its readers may still hold: index tables, chunks and oversize blocks, each freed
/// once its map's <see cref="EpochDomain"/> moves past the epoch it was retired at. Two intrusive FIFO lists (chunks,
/// and other native blocks), so that retiring never allocates and so can never fail after the item was unpublished:
/// each item links through a <see cref="RetireLink"/> in its own header.
/// Epochs are taken under the lock, so each list is in epoch order and a drain frees a prefix of it.
/// </summary>
internal sealed unsafe class RetireList
{
    /// <summary>A drain is attempted once this many items were retired since the last attempt…</summary>
    internal const int DrainCountThreshold = 32;

    /// <summary>
    /// …or this many bytes, so that retired chunks get back to their pool (and are reused) after a few retirements,
    /// not after 32 of them. A drain that can free something costs one process-wide barrier: an interrupt for every
    /// thread of the process running at that moment, which shows at a reader's p99.9 when drains are frequent.
    /// </summary>
    internal const long DrainBytesThreshold = 1L << 20;

    /// <summary>
    /// Retired bytes that readers must hold back before background compaction defers itself
    /// (<see cref="IsHeldBackByReaders"/>): four drain thresholds, far above what readers that come and go keep pending.
    /// </summary>
    internal const long HeldBackBytesThreshold = 4 * DrainBytesThreshold;

    private readonly NativeArena _arena;
    private readonly ChunkPool _pool;
    private readonly EpochDomain _epoch;

    // Everything below is guarded by _lock. Counters are also read racily (Volatile) by statistics.
    private readonly Lock _lock = new();
    private RetireLink* _chunkHead;
    private RetireLink* _chunkTail;
    private RetireLink* _blockHead;
    private RetireLink* _blockTail;
    private int _count;
    private long _pendingBytes;
    private int _countSinceAttempt;
    private long _bytesSinceAttempt;
    private long _releasedItems;
    private long _releasedBytes;
    private long _releasedWhileReadersActive;
    private long _drains;
    private long _skippedBarriers;

    internal RetireList(NativeArena arena, ChunkPool pool, EpochDomain epoch)
    {
        _arena = arena;
        _pool = pool;
        _epoch = epoch;
    }

    internal EpochDomain Epoch => _epoch;

    internal int PendingCount => Volatile.Read(ref _count);

    internal long PendingBytes => Volatile.Read(ref _pendingBytes);

    internal long ReleasedItems => Volatile.Read(ref _releasedItems);

    internal long ReleasedBytes => Volatile.Read(ref _releasedBytes);

    /// <summary>Items freed by a drain whose scan saw at least one reader inside a protected region.</summary>
    internal long ReleasedWhileReadersActive => Volatile.Read(ref _releasedWhileReadersActive);

    /// <summary>Drains that freed something (each cost one barrier).</summary>
    internal long Drains => Volatile.Read(ref _drains);

    /// <summary>Drain attempts that skipped the barrier because readers still held every pending item [E7].</summary>
    internal long SkippedBarriers => Volatile.Read(ref _skippedBarriers);

    /// <summary>
    /// Test mode: chunks are freed without waiting for the grace period (the control run that proves the
    /// use-after-free detector works). Only chunks: in poison mode they are quarantined, never unmapped, so a reader
    /// that wrongly touches one reads poison instead of crashing. Settable only with <see cref="TestHooks"/> armed.
    /// </summary>
    internal bool UnsafeSkipGracePeriod
    {
        get => TestHooks.Enabled && _unsafeSkipGracePeriod;
        set
        {
            TestHooks.Require(nameof(UnsafeSkipGracePeriod));
            _unsafeSkipGracePeriod = value;
        }
    }

    private bool _unsafeSkipGracePeriod;

    /// <summary>
    /// [E7] True when at least <see cref="HeldBackBytesThreshold"/> bytes are pending and a reader still holds back even
    /// the oldest of them (by the barrier-free bound, which may miss a reader but never invents one): nothing retired
    /// from now on can be freed until that reader leaves.
    /// </summary>
    internal bool IsHeldBackByReaders
    {
        get
        {
            lock (_lock)
            {
                if (_pendingBytes < HeldBackBytesThreshold)
                {
                    return false;
                }

                long oldest = OldestEpochUnsynchronized;
                return oldest >= _epoch.PeekSafeEpoch();
            }
        }
    }

    /// <summary>Retires a chunk; after the grace period it goes back to its pool. The chunk must be unpublished.</summary>
    internal void Retire(Chunk chunk)
    {
        // Bytes 40-63 of the header become the list's, as for a block: no reader reads a chunk's header, and the
        // chunk's size and class (bytes 20-28), which its pool reads back, stay as they are.
        var link = (RetireLink*)(chunk.Base + RetireLink.Offset);
        long bytes = chunk.Capacity;
        bool attempt;
        lock (_lock)
        {
            // [E4] The caller unpublished the chunk; the bump orders that before the new epoch.
            link->Epoch = _epoch.BumpForRetire();
            link->Bytes = bytes;
            link->Next = null;
            if (_chunkTail == null)
            {
                _chunkHead = link;
            }
            else
            {
                _chunkTail->Next = link;
            }

            _chunkTail = link;
            attempt = CountUnsynchronized(bytes);
        }

        if (attempt)
        {
            TryDrain();
        }
    }

    /// <summary>
    /// Retires a native block from the map's arena (an index table or an oversize entry block). Bytes
    /// [<see cref="RetireLink.Offset"/>, +<see cref="RetireLink.Size"/>) of its header become the list's: no reader
    /// may read them, and no writer touches the block again.
    /// </summary>
    /// <param name="block">The block's start.</param>
    /// <param name="bytes">Its size.</param>
    /// <param name="reusable">An oversize entry block: after its grace period it goes to <see cref="ChunkPool.Blocks"/>, not straight back to the OS.</param>
    internal void Retire(void* block, long bytes, bool reusable = false)
    {
        Debug.Assert(bytes >= RetireLink.Offset + RetireLink.Size && bytes < RetireLink.ReusableFlag);
        var link = (RetireLink*)((byte*)block + RetireLink.Offset);
        bool attempt;
        lock (_lock)
        {
            // [E4] As above.
            link->Epoch = _epoch.BumpForRetire();
            link->Bytes = reusable ? bytes | RetireLink.ReusableFlag : bytes;
            link->Next = null;
            if (_blockTail is null)
            {
                _blockHead = link;
            }
            else
            {
                _blockTail->Next = link;
            }

            _blockTail = link;
            attempt = CountUnsynchronized(bytes);
        }

        if (attempt)
        {
            TryDrain();
        }
    }

    /// <summary>The retirement epoch of the oldest pending item (each list is in epoch order), or long.MaxValue.</summary>
    private long OldestEpochUnsynchronized =>
        Math.Min(_chunkHead != null ? _chunkHead->Epoch : long.MaxValue, _blockHead != null ? _blockHead->Epoch : long.MaxValue);

    private bool CountUnsynchronized(long bytes)
    {
        _count++;
        _pendingBytes += bytes;
        _countSinceAttempt++;
        _bytesSinceAttempt += bytes;
        return _countSinceAttempt >= DrainCountThreshold || _bytesSinceAttempt >= DrainBytesThreshold || UnsafeSkipGracePeriod;
    }

    /// <summary>Frees every item whose grace period has passed. Returns how many were freed.</summary>
    internal int TryDrain() => Drain(limit: long.MaxValue, wait: false);

    /// <summary>
    /// Frees everything retired before this call, waiting for the readers that were inside a region when it began
    /// (and only them: readers that enter later, and items retired meanwhile, never keep it waiting) [E7].
    /// Must not be called from inside a region of this list's domain, which would wait on itself.
    /// </summary>
    internal void DrainRetiredSoFar()
    {
        long r = _epoch.BumpForRetire();
        _epoch.WaitForSafe(r);
        Drain(limit: r, wait: true);
    }

    /// <summary>
    /// Frees everything pending if no reader is inside a region, without waiting (a finalizer's drain). Returns false,
    /// freeing nothing held back, when a reader is inside.
    /// </summary>
    internal bool TryDrainEverythingNow()
    {
        long r = _epoch.BumpForRetire();
        if (_epoch.ComputeSafeEpoch(out _) <= r)
        {
            return false;
        }

        Drain(limit: r, wait: true);
        return PendingCount == 0;
    }

    /// <param name="limit">Free nothing retired after this epoch.</param>
    /// <param name="wait">The caller already waited for the grace period of everything up to <paramref name="limit"/>.</param>
    private int Drain(long limit, bool wait)
    {
        lock (_lock)
        {
            _countSinceAttempt = 0;
            _bytesSinceAttempt = 0;
            if (_count == 0)
            {
                return 0;
            }

            long oldest = OldestEpochUnsynchronized;
            bool skipGraceForChunks = UnsafeSkipGracePeriod;
            long safe;
            bool readersActive = false;
            if (wait)
            {
                safe = limit + 1;
            }
            else if (oldest >= _epoch.PeekSafeEpoch() && !skipGraceForChunks)
            {
                // [E7] A reader holds back even the oldest item: no barrier can free anything. Readers parked in long
                // callbacks therefore cost writers a slot scan per attempt, never a barrier storm.
                _skippedBarriers++;
                return 0;
            }
            else
            {
                safe = _epoch.ComputeSafeEpoch(out readersActive);
            }

            int released = 0;
            long releasedBytes = 0;
            while (_chunkHead != null && (_chunkHead->Epoch < safe || skipGraceForChunks) && _chunkHead->Epoch <= limit)
            {
                RetireLink* link = _chunkHead;
                _chunkHead = link->Next;
                releasedBytes += link->Bytes;
                released++;
                _pool.Return(new Chunk((ChunkHeader*)((byte*)link - RetireLink.Offset)));
            }

            if (_chunkHead == null)
            {
                _chunkTail = null;
            }

            while (_blockHead != null && _blockHead->Epoch < safe && _blockHead->Epoch <= limit)
            {
                RetireLink* link = _blockHead;
                _blockHead = link->Next;
                long bytes = link->Bytes & ~RetireLink.ReusableFlag;
                releasedBytes += bytes;
                released++;
                if ((link->Bytes & RetireLink.ReusableFlag) != 0)
                {
                    _pool.Blocks.Return((byte*)link - RetireLink.Offset, bytes);
                }
                else
                {
                    _arena.Free((byte*)link - RetireLink.Offset, (nuint)bytes);
                }
            }

            if (_blockHead == null)
            {
                _blockTail = null;
            }

            _count -= released;
            _pendingBytes -= releasedBytes;
            _releasedItems += released;
            _releasedBytes += releasedBytes;
            _drains++;
            if (readersActive)
            {
                _releasedWhileReadersActive += released;
            }

            return released;
        }
    }
}

/// <summary>
/// The retire list's link, written into bytes 40–63 of a retired native block's 64-byte header: an index table's
/// header leaves them unused, and a chunk's or oversize block's <see cref="ChunkHeader"/> keeps its oversize-list
/// links and sweep time there, which are dead once it is unpublished and retired.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = Size)]
internal unsafe struct RetireLink
{
    internal const int Offset = 40;
    internal const int Size = 24;

    /// <summary>Set in <see cref="Bytes"/> for a block that goes to the block pool once freed (sizes stay far below it).</summary>
    internal const long ReusableFlag = 1L << 62;

    public RetireLink* Next;
    public long Epoch;
    public long Bytes;
}
