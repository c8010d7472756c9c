using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// Compaction: live entries of sparse sealed chunks are copied to the tail and their index words swung to the
/// copy, one bounded batch per lock hold, so a writer waits at most one batch. Readers never wait: they see the
/// old copy or the new one, both complete and equal [C1]. Invariants C1–C5 are in docs/concurrency.md.
/// </summary>
internal sealed unsafe partial class Shard
{
    /// <summary>
    /// A background pass leaves a chunk alone until this many younger chunks have been sealed after it. Entries die
    /// young under churn (an overwritten key kills its previous entry, most likely in a recent chunk), so moving a
    /// freshly sealed chunk's survivors is mostly wasted copying: they would have died on their own. Measured on a
    /// 1 K-entry map under overwrites: the compactor scanned every sealed chunk and doubled the cost of a write.
    /// </summary>
    internal const int MinSealAge = 2;

    /// <summary>Log bytes a compactor scans per lock hold: bounds how long a writer can wait for it [C3].</summary>
    internal const int CompactionBatchBytes = 32 << 10;

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

    // The compactor's candidate list; touched only by the thread holding the map's compaction gate.
    private readonly List<(Chunk Chunk, long Dead)> _candidates = [];

    internal long ChunksCompacted => Volatile.Read(ref _chunksCompacted);

    /// <summary>The size class the shard used for its last chunk (tests of the adaptive policy).</summary>
    internal int SizeClassForTests => Volatile.Read(ref _sizeClass);

    internal long BytesMoved => Volatile.Read(ref _bytesMoved);

    internal long BytesReclaimed => Volatile.Read(ref _bytesReclaimed);

    // Reclaimable dead bytes must reach this before the shard asks again (writer, under _lock). Raised after every
    // pass to what was left plus one chunk, so a shard whose dead bytes a pass could not reduce (they sit in chunks
    // under the per-chunk ratio) does not ask again on every kill.
    private long _requestFloor;

    /// <summary>Dead bytes compaction can reclaim: all but those in the tail, which is still being appended to.</summary>
    private long ReclaimableBytesUnsynchronized => _deadBytes - (_tail is { } t ? t.Header->DeadBytes : 0);

    /// <summary>After an entry died: ask for a pass once reclaimable dead bytes cross the thresholds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MaybeRequestCompactionUnsynchronized()
    {
        if (_deadBytes >= _requestFloor && _compactionRequested == 0)
        {
            MaybeRequestCompactionSlowUnsynchronized();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void MaybeRequestCompactionSlowUnsynchronized()
    {
        long reclaimable = ReclaimableBytesUnsynchronized;
        if (reclaimable >= _requestFloor && reclaimable >= _map.CompactionMinDeadBytes &&
            reclaimable >= (_liveBytes + _deadBytes) * _map.CompactionDeadRatio)
        {
            Volatile.Write(ref _compactionRequested, 1);
            _map.RequestCompaction();
        }
    }

    /// <summary>Takes this shard's pending request, if any (compactor thread).</summary>
    internal bool TakeCompactionRequest() => Interlocked.Exchange(ref _compactionRequested, 0) != 0;

    /// <summary>
    /// Compacts this shard's sealed chunks whose dead fraction reaches the map's ratio, or, when
    /// <paramref name="everything"/> is set, every sealed chunk with any dead bytes. The caller holds the map's
    /// compaction gate. Returns the chunks compacted.
    /// </summary>
    internal int Compact(bool everything)
    {
        long generation;
        _candidates.Clear();
        using (_lock.EnterScope())
        {
            if (_disposed)
            {
                return 0;
            }

            generation = _generation;
            double ratio = _map.CompactionDeadRatio;
            ShrinkTailUnsynchronized(everything);
            var t = (IndexTable*)_table;
            long fit = FittedCapacityUnsynchronized(t->Live);
            if (everything && (t->Capacity > fit || t->Tombstones > 0))
            {
                TryRebuildUnsynchronized(fit);
            }

            foreach (Chunk c in _chunks)
            {
                if (c == _tail)
                {
                    continue;
                }

                ChunkHeader* h = c.Header;
                long payload = c.Capacity - Chunk.HeaderSize - Chunk.TailPadding;
                bool old = _seals - h->SealedAt >= MinSealAge;
                if (everything ? h->DeadBytes > 0 : old && h->DeadBytes >= payload * ratio)
                {
                    _candidates.Add((c, h->DeadBytes));
                }
            }
        }

        // Emptiest first: the most space back for the fewest bytes copied. Sorted on the figures read under the
        // lock: a chunk may be retired, even freed, from here on, and is not read again until re-validated.
        _candidates.Sort(static (a, b) => b.Dead.CompareTo(a.Dead));
        int done = 0;
        foreach ((Chunk c, _) in _candidates)
        {
            if (!CompactChunk(c, generation))
            {
                break;
            }

            done++;
        }

        _candidates.Clear();
        using (_lock.EnterScope())
        {
            _requestFloor = ReclaimableBytesUnsynchronized + _map.ChunkSizes[0];
        }

        return done;
    }

    /// <summary>
    /// Seals the tail so that compaction can empty it when it is of a larger class than the shard's live bytes now
    /// call for and mostly empty, or (for <see cref="ByteMap.Compact"/>) when it holds dead bytes. Otherwise a shard
    /// that shrank would keep appending to, and holding, one large chunk.
    /// </summary>
    private void ShrinkTailUnsynchronized(bool everything)
    {
        Chunk? tail = _tail;
        if (tail is null)
        {
            return;
        }

        ChunkHeader* h = tail.Header;
        int wanted = _map.ChunkPolicy.SelectSizeClass(_liveBytes, _sizeClass, _map.ChunkSizes);
        bool oversized = wanted < tail.SizeClass && h->LiveBytes < tail.Capacity / 4;
        if (oversized || (everything && h->DeadBytes > 0))
        {
            SealTailUnsynchronized();
        }
    }

    /// <summary>Moves every live entry out of <paramref name="chunk"/>, then retires it. False if the shard was cleared or disposed meanwhile.</summary>
    private bool CompactChunk(Chunk chunk, long generation)
    {
        int offset = Chunk.HeaderSize;
        long moved = 0;
        bool pinned = false;
        while (true)
        {
            using (_lock.EnterScope())
            {
                // [C2] Cleared or disposed since the last batch: the chunk is retired; do not touch it.
                if (_disposed || _generation != generation)
                {
                    return false;
                }

                if (!pinned)
                {
                    // [C3] Chosen before this lock hold: skip it if its entries all died meanwhile (it was retired, and may
                    // even have been rented again). A sealed chunk never becomes the tail again otherwise.
                    int index = chunk.ListIndex;
                    if (index < 0 || index >= _chunks.Count || _chunks[index] != chunk || chunk == _tail)
                    {
                        return true;
                    }

                    // [C4] From here on only this compactor retires the chunk.
                    chunk.Header->Flags |= Chunk.PinnedFlag;
                    pinned = true;
                }

                ChunkHeader* h = chunk.Header;
                try
                {
                    long budget = CompactionBatchBytes;
                    int used = h->Used;
                    while (offset < used && budget > 0 && h->LiveBytes > 0)
                    {
                        byte* e = chunk.Base + offset;
                        var entry = new EntryReader(e);
                        long size = entry.TotalSize;
                        ulong hash = _map.HashOf(entry.Key);
                        long slot = FindSlotOfUnsynchronized(hash, e);
                        if (slot >= 0)
                        {
                            MoveUnsynchronized(slot, e, size, hash, h);
                            moved += size;
                        }

                        offset += (int)size;
                        budget -= size;
                    }

                    if (h->LiveBytes > 0 && offset < used)
                    {
                        continue; // next batch, after letting writers in
                    }

                    Debug.Assert(h->LiveBytes == 0, "every live entry of a scanned chunk has an index word");
                    h->Flags &= unchecked((byte)~Chunk.PinnedFlag);
                    pinned = false;
                    if (h->LiveBytes == 0)
                    {
                        Volatile.Write(ref _bytesReclaimed, _bytesReclaimed + chunk.Capacity - moved);
                        Volatile.Write(ref _chunksCompacted, _chunksCompacted + 1);
                        RetireChunkUnsynchronized(chunk);
                    }

                    return true;
                }
                catch
                {
                    // Out of memory for the copy: the entry was not moved and its word still points into this chunk.
                    // Unpin so that writers can retire the chunk once its last entry dies, and report the failure.
                    h->Flags &= unchecked((byte)~Chunk.PinnedFlag);
                    if (h->LiveBytes == 0)
                    {
                        RetireChunkUnsynchronized(chunk);
                    }

                    throw;
                }
            }
        }
    }

    /// <summary>
    /// The slot whose word points at <paramref name="entry"/>, or -1 if none does: the entry is dead, or a write
    /// replaced it since, and that write wins [C2].
    /// </summary>
    private long FindSlotOfUnsynchronized(ulong hash, byte* entry)
    {
        var t = (IndexTable*)_table;
        ulong mask = t->Mask;
        ulong* slots = IndexTable.Slots(t);
        ulong i = hash & mask;
        while (true)
        {
            ulong w = slots[i];
            if (w == IndexWord.Empty)
            {
                return -1;
            }

            if (IndexWord.Address(w) == entry)
            {
                return (long)i;
            }

            i = (i + 1) & mask;
        }
    }

    /// <summary>Copies a live entry to the tail and swings its word to the copy [C1].</summary>
    private void MoveUnsynchronized(long slot, byte* entry, long size, ulong hash, ChunkHeader* from)
    {
        byte* copy = AppendUnsynchronized(size, out int sizeClass);
        System.Buffer.MemoryCopy(entry, copy, size, size);
        ulong* slots = IndexTable.Slots((IndexTable*)_table);
        // [I1][C1] Release store: the copy's bytes are visible before the word that points at them. The old copy
        // stays intact (entries are immutable) and readable until its chunk's grace period ends.
        Volatile.Write(ref slots[slot], IndexWord.Make(hash, sizeClass, copy));
        from->LiveBytes -= size;
        from->DeadBytes += size;
        Volatile.Write(ref _deadBytes, _deadBytes + size);
        Volatile.Write(ref _bytesMoved, _bytesMoved + size);
    }
}
