using System;
using System.Threading;

namespace CMap.Buffer;

/// <summary>
/// Memory a map has unpublished but readers may still hold: index tables, chunks and oversize blocks. Each item
/// carries the epoch it was retired at and is released once <see cref="Epoch.ComputeSafeEpoch"/> moves past it.
/// </summary>
internal sealed unsafe class RetireList
{
    /// <summary>Drain once this many items are pending…</summary>
    internal const int DrainCountThreshold = 32;

    /// <summary>
    /// …or this many bytes, so that retired chunks get back to their pool (and are reused) after a few retirements,
    /// not after 32 of them. A drain costs one process-wide barrier: 1–4 µs here, and an interrupt for every thread
    /// of the process running at that moment, readers included. At 256 KiB a churning writer (200 MB/s of log)
    /// drained ~800 times a second, and those interrupts showed at a reader's p99.9 (7.4 µs against 2.8 µs for
    /// ConcurrentDictionary); 1 MiB keeps them under 1 in 5,000 reads at a million reads a second.
    /// </summary>
    internal const long DrainBytesThreshold = 1L << 20;

    private readonly NativeArena _arena;
    private readonly ChunkPool _pool;

    // Everything below is guarded by _lock. Counters are also read racily (Volatile) by statistics.
    private readonly Lock _lock = new();
    private Item[] _items = new Item[8 * DrainCountThreshold]; // room for readers holding drains back, without a writer growing it
    private int _count;
    private long _pendingBytes;
    private long _releasedItems;
    private long _releasedBytes;
    private long _releasedWhileReadersActive;
    private long _drains;

    internal RetireList(NativeArena arena, ChunkPool pool)
    {
        _arena = arena;
        _pool = pool;
    }

    internal int PendingCount => Volatile.Read(ref _count);

    internal long PendingBytes => Volatile.Read(ref _pendingBytes);

    internal long ReleasedItems => Volatile.Read(ref _releasedItems);

    internal long ReleasedBytes => Volatile.Read(ref _releasedBytes);

    /// <summary>Items freed by a drain whose scan saw at least one reader inside a protected region.</summary>
    internal long ReleasedWhileReadersActive => Volatile.Read(ref _releasedWhileReadersActive);

    internal long Drains => Volatile.Read(ref _drains);

    /// <summary>
    /// Test mode: chunks are freed without waiting for the grace period (the control run that proves the
    /// use-after-free detector works). Only chunks: in poison mode they are quarantined, never unmapped, so a
    /// reader that wrongly touches one reads poison instead of crashing. Tables and blocks still wait.
    /// </summary>
    internal bool UnsafeSkipGracePeriod { get; set; }

    /// <summary>Retires a chunk; after the grace period it goes back to its pool. The chunk must be unpublished.</summary>
    internal void Retire(Chunk chunk) => Add(new Item { Chunk = chunk, Bytes = chunk.Capacity });

    /// <summary>Retires a native block from the map's arena (an index table or an oversize entry block).</summary>
    internal void Retire(void* block, long bytes) => Add(new Item { Block = block, Bytes = bytes });

    private void Add(Item item)
    {
        // [E4] The caller unpublished the item before calling; the bump orders that before the new epoch.
        item.Epoch = Epoch.BumpForRetire();
        bool drain;
        lock (_lock)
        {
            if (_count == _items.Length)
            {
                Array.Resize(ref _items, _items.Length * 2);
            }

            _items[_count++] = item;
            _pendingBytes += item.Bytes;
            drain = _count >= DrainCountThreshold || _pendingBytes >= DrainBytesThreshold || UnsafeSkipGracePeriod;
        }

        if (drain)
        {
            TryDrain();
        }
    }

    /// <summary>Frees every item whose grace period has passed. Returns how many were freed.</summary>
    internal int TryDrain()
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                return 0;
            }

            long safe = Epoch.ComputeSafeEpoch(out bool readersActive);
            bool skipGraceForChunks = UnsafeSkipGracePeriod;
            int kept = 0;
            int released = 0;
            for (int i = 0; i < _count; i++)
            {
                ref Item it = ref _items[i];
                if (it.Epoch < safe || (skipGraceForChunks && it.Chunk is not null))
                {
                    Release(in it);
                    _pendingBytes -= it.Bytes;
                    _releasedBytes += it.Bytes;
                    released++;
                }
                else
                {
                    _items[kept++] = it;
                }
            }

            Array.Clear(_items, kept, _count - kept);
            _count = kept;
            _releasedItems += released;
            _drains++;
            if (readersActive)
            {
                _releasedWhileReadersActive += released;
            }

            return released;
        }
    }

    /// <summary>Waits out the grace period of everything retired so far and frees it (used by Dispose).</summary>
    internal void DrainAll()
    {
        Epoch.WaitForSafe(Epoch.BumpForRetire());
        while (TryDrain() > 0 || PendingCount > 0)
        {
            Epoch.WaitForSafe(Epoch.BumpForRetire());
        }
    }

    private void Release(in Item it)
    {
        if (it.Chunk is not null)
        {
            _pool.Return(it.Chunk);
        }
        else
        {
            _arena.Free(it.Block, (nuint)it.Bytes);
        }
    }

    private struct Item
    {
        public long Epoch;
        public Chunk? Chunk;
        public void* Block;
        public long Bytes;
    }
}
