using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// Compaction: live entries of sparse sealed chunks are copied to the tail and their index words swung to the
/// copy, one bounded batch per lock hold, so a writer waits at most one batch. Readers never wait: they see the
/// old copy or the new one, both complete and equal [C1]. Invariants C1–C6 are in docs/concurrency.md.
/// </summary>
internal unsafe partial struct Shard
{
    /// <summary>
    /// A background pass leaves a chunk alone until this many younger chunks have been sealed after it. Entries die
    /// young under churn (an overwritten key kills its previous entry, most likely in a recent chunk), so moving a
    /// freshly sealed chunk's survivors is mostly wasted copying: they would have died on their own.
    /// </summary>
    internal const int MinSealAge = 2;

    /// <summary>
    /// Bytes a compactor copies per lock hold [C3]: bounds how long a writer can wait for it. An entry larger than
    /// this is copied outside the lock [C6].
    /// </summary>
    internal const int CompactionBatchBytes = 32 << 10;

    /// <summary>Entries a batch may scan (dead ones cost a key hash each), so a chunk of tiny dead entries is bounded too.</summary>
    internal const int CompactionBatchEntries = 1024;

    internal long ChunksCompacted => Volatile.Read(ref _chunksCompacted);

    internal long BytesMoved => Volatile.Read(ref _bytesMoved);

    internal long BytesReclaimed => Volatile.Read(ref _bytesReclaimed);

    /// <summary>The most bytes any one batch copied while holding the shard lock [C3].</summary>
    internal long MaxBytesCopiedUnderLock => Volatile.Read(ref _maxBytesCopiedUnderLock);

    /// <summary>Entries larger than a batch, copied outside the lock [C6].</summary>
    internal long LargeMovesOutsideLock => Volatile.Read(ref _largeMovesOutsideLock);

    /// <summary>Large moves whose copy was dropped because a write replaced the entry during the copy [C6].</summary>
    internal long LargeMovesLostToWriters => Volatile.Read(ref _largeMovesLostToWriters);

    /// <summary>Dead entry bytes compaction can reclaim: all but those in the tail, which is still being appended to.</summary>
    private long ReclaimableBytesUnsynchronized =>
        _deadBytes - (_tail.IsNull ? 0 : _tail.Header->DeadBytes) - (_mainTail.IsNull ? 0 : _mainTail.Header->DeadBytes);

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
        if (_settings.CompactionRequests is { } sink && reclaimable >= _requestFloor &&
            reclaimable >= _settings.CompactionMinDeadBytes &&
            reclaimable >= (_liveBytes + _deadBytes) * _settings.CompactionDeadRatio)
        {
            Volatile.Write(ref _compactionRequested, 1);
            sink.Request();
        }
    }

    /// <summary>Takes this shard's pending request, if any (compactor thread).</summary>
    internal bool TakeCompactionRequest() => Interlocked.Exchange(ref _compactionRequested, 0) != 0;

    /// <summary>
    /// What moving <paramref name="c"/>'s live entries out would free beyond their own size: its dead entries, plus its
    /// slack when it was sealed far from full (over half its payload unused). A chunk sealed in the normal way has
    /// less slack than one entry (entries over half a payload, or an eighth with a budget, get their own block [I8]), and copying its entries
    /// would only leave the same slack in another chunk, so that slack does not count.
    /// </summary>
    private static long ReclaimableOf(Chunk c)
    {
        ChunkHeader* h = c.Header;
        long slack = SlackOf(c);
        return h->DeadBytes + (slack * 2 > Chunk.PayloadCapacity(c.Capacity) ? slack : 0);
    }

    /// <summary>
    /// Compacts this shard's sealed chunks whose reclaimable fraction reaches the ratio, or, when
    /// <paramref name="everything"/> is set, every sealed chunk whose move frees memory. The caller holds the map's
    /// compaction gate. Returns the chunks compacted.
    /// </summary>
    internal int Compact(bool everything)
    {
        long generation;
        List<WalkCandidate> candidates = _settings.WalkCandidates; // the map's, lent under its compaction gate
        candidates.Clear();
        using (_lock.EnterScope())
        {
            if (_disposed)
            {
                return 0;
            }

            generation = _generation;
            double ratio = _settings.CompactionDeadRatio;
            ShrinkTailUnsynchronized(everything);
            var t = (IndexTable*)_table;
            long fit = FittedCapacityUnsynchronized(t->Live);
            if (everything && (t->Capacity > fit || t->Tombstones > 0))
            {
                TryRebuildUnsynchronized(fit);
            }

            for (int i = 0; i < _chunks.Count; i++)
            {
                Chunk c = _chunks[i];
                if (IsTailUnsynchronized(c))
                {
                    continue;
                }

                long reclaimable = ReclaimableOf(c);
                bool old = _seals - c.Header->SealedAt >= MinSealAge;
                if (everything ? reclaimable > 0 : old && reclaimable >= Chunk.PayloadCapacity(c.Capacity) * ratio)
                {
                    candidates.Add(new WalkCandidate(c, i, reclaimable));
                }
            }
        }

        // Emptiest first: the most space back for the fewest bytes copied. Sorted on the figures read under the
        // lock: a chunk may be retired, even freed, from here on, and is not read again until re-validated.
        candidates.Sort(static (a, b) => b.Reclaimable.CompareTo(a.Reclaimable));
        int done = 0;
        foreach (WalkCandidate c in candidates)
        {
            if (!WalkChunk(c.Chunk, c.ListIndex, generation, ChunkWalk.Compact))
            {
                break;
            }

            done++;
        }

        candidates.Clear();
        using (_lock.EnterScope())
        {
            if (_chunks.Count == 0 && !_disposed)
            {
                // A shard compaction emptied holds what an empty one does (its next chunk allocates the list again).
                Volatile.Write(ref _indexBytes, _indexBytes - _chunks.Free(Arena));
            }

            _requestFloor = ReclaimableBytesUnsynchronized + _settings.ChunkSizes[0];
        }

        return done;
    }

    /// <summary>
    /// Seals the tail so that compaction can empty it when it is of a larger class than the shard's live bytes now
    /// call for and mostly empty, or (for ByteMap.Compact) when it holds dead bytes. Otherwise a shard that shrank
    /// would keep appending to, and holding, one large chunk.
    /// </summary>
    private void ShrinkTailUnsynchronized(bool everything)
    {
        int wanted = Math.Min(_settings.ChunkPolicy.SelectSizeClass(_liveBytes, _sizeClass, _settings.ChunkSizes), _settings.MaxSizeClass);
        ShrinkTailUnsynchronized(_tail, Chunk.ProbationRegion, wanted, everything);
        ShrinkTailUnsynchronized(_mainTail, Chunk.MainRegion, wanted, everything);
    }

    private void ShrinkTailUnsynchronized(Chunk tail, byte region, int wanted, bool everything)
    {
        if (tail.IsNull)
        {
            return;
        }

        ChunkHeader* h = tail.Header;
        bool oversized = wanted < tail.SizeClass && h->LiveBytes < tail.Capacity / 4;
        if (oversized || (everything && h->DeadBytes > 0))
        {
            SealTailUnsynchronized(region);
        }
    }
}

/// <summary>
/// A chunk a compaction pass or sweep chose under the shard lock: where it was in the shard's list then, and what
/// moving it out would free. Re-validated from the list alone before the chunk is touched again [C3].
/// </summary>
internal readonly unsafe record struct WalkCandidate(Chunk Chunk, int ListIndex, long Reclaimable)
{
    /// <summary>The address only: the chunk may have been freed since it was chosen, so its header is not read.</summary>
    public override string ToString() => $"WalkCandidate(0x{(nint)Chunk.Header:x}, index {ListIndex}, reclaimable {Reclaimable})";
}
