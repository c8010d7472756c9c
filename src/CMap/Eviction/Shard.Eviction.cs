using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// Eviction, done by the compactor: the oldest chunk (or large-value block) of a region is walked and its entries
/// dropped instead of copied, except those read since eviction last saw them (an access count above 0), which move to
/// the main region's tail (a second chance). As in S3-FIFO, new entries start in a small probationary region (a tenth
/// of the shard's bytes) that is evicted first; an entry read there is promoted with its count back at 0, an entry in
/// main is kept with its count lowered by one (S3-FIFO's two-bit CLOCK: read three times, it survives three looks), one
/// evicted unread from probation leaves its fingerprint in the ghost set, and a key written again while its
/// fingerprint is there enters the main region directly. Eviction counts bytes, never entries: a block holding one
/// large value competes by age like a chunk.
/// </summary>
internal unsafe partial struct Shard
{
    /// <summary>The probation region's share of the shard's bytes above which eviction takes from it first.</summary>
    private const int ProbationShareDivisor = 10;

    internal long SecondChances => Volatile.Read(ref _secondChances);

    /// <summary>
    /// Evicts from this shard's oldest chunk or block in the region S3-FIFO picks. The compactor and writers that make
    /// room inline may run it at once: a chunk is walked by one of them only (the first pins it, the others skip it).
    /// Returns false when the shard has nothing it can evict. <paramref name="sealTails"/> (the compactor): when only
    /// tails hold entries, seal one and evict from it; a writer making room inline leaves tails alone (they hold what
    /// was just written, and promoted, and has had no chance to be read yet).
    /// </summary>
    internal bool EvictOldest(bool sealTails = true)
    {
        Chunk victim;
        int listIndex;
        long generation;
        using (_lock.EnterScope())
        {
            if (_disposed || !PickVictimUnsynchronized(out victim, out ChunkHeader* block, sealTails))
            {
                return false;
            }

            generation = _generation;
            if (block != null)
            {
                return EvictBlockUnsynchronized(block, secondChance: true);
            }

            listIndex = victim.Header->ListIndex;
        }

        WalkChunk(victim, listIndex, generation, ChunkWalk.Evict);
        return true;
    }

    /// <summary>
    /// A writer's fallback when its write would take the map past its budget and the compactor has fallen behind:
    /// under this shard's lock, drops its oldest entries, marked or not (no copies, so it allocates nothing), until the
    /// settled bytes leave room for <paramref name="incoming"/> or nothing evictable is left. With
    /// <paramref name="lastResort"/> unset, an entry read since eviction last saw it is kept in place with its count
    /// back at 0 (CLOCK's second chance, without a copy); set, everything goes, the tails too. Never waits for the compactor. Returns
    /// whether it evicted anything.
    /// </summary>
    internal bool MakeRoom(long incoming, bool lastResort)
    {
        MemoryBudget budget = Budget!;
        bool evicted = false;
        using ShardLock.Scope scope = _lock.EnterScope();
        if (_disposed)
        {
            return false;
        }

        _keptInPlace?.Clear();
        for (int guard = 0; guard < 256 && budget.MustEvictInline(incoming); guard++)
        {
            if (!PickVictimUnsynchronized(out Chunk victim, out ChunkHeader* block, sealTails: lastResort, skip: lastResort ? null : _keptInPlace) ||
                (block != null && !EvictBlockUnsynchronized(block, secondChance: !lastResort)))
            {
                break;
            }

            if (!victim.IsNull && !DropChunkUnsynchronized(victim, keepMarked: !lastResort))
            {
                _keptInPlace ??= [];
                _keptInPlace.Add(victim); // still holds marked entries: look at the next oldest this round
            }

            evicted = true;
        }

        return evicted;
    }

    /// <summary>
    /// Picks the oldest sealed chunk or block of the region to evict from: probation while it holds more than a tenth
    /// of the shard's bytes, else main, else whichever has something. Chunks being walked by the compactor are
    /// skipped. When only tails hold entries (a small shard) and <paramref name="sealTails"/> is set, seals them, so
    /// they can be evicted.
    /// </summary>
    private bool PickVictimUnsynchronized(out Chunk chunk, out ChunkHeader* block, bool sealTails, System.Collections.Generic.List<Chunk>? skip = null)
    {
        long total = _chunkBytes + _oversizeBytes;
        byte first = (total - _mainBytes) * ProbationShareDivisor > total ? Chunk.ProbationRegion : Chunk.MainRegion;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            for (int r = 0; r < 2; r++)
            {
                byte region = (byte)(r == 0 ? first : 1 - first);
                Chunk oldest = OldestSealedUnsynchronized(region, skip);
                ChunkHeader* b = BlocksOf(region).Tail;
                if (oldest.IsNull && b == null)
                {
                    continue;
                }

                if (b != null && (oldest.IsNull || b->SealedAt <= oldest.Header->SealedAt))
                {
                    chunk = default;
                    block = b;
                }
                else
                {
                    chunk = oldest;
                    block = null;
                }

                return true;
            }

            // Nothing sealed: seal a tail that holds live entries and look again.
            if (!sealTails)
            {
                break;
            }

            if (!_tail.IsNull && _tail.Header->LiveBytes > 0 && (_tail.Header->Flags & Chunk.PinnedFlag) == 0)
            {
                SealTailUnsynchronized(Chunk.ProbationRegion);
            }
            else if (!_mainTail.IsNull && _mainTail.Header->LiveBytes > 0 && (_mainTail.Header->Flags & Chunk.PinnedFlag) == 0)
            {
                SealTailUnsynchronized(Chunk.MainRegion);
            }
            else
            {
                break;
            }
        }

        chunk = default;
        block = null;
        return false;
    }

    private Chunk OldestSealedUnsynchronized(byte region, System.Collections.Generic.List<Chunk>? skip)
    {
        Chunk oldest = default;
        foreach (Chunk c in _chunks)
        {
            ChunkHeader* h = c.Header;
            if (h->Region == region && (h->Flags & Chunk.PinnedFlag) == 0 && !IsTailUnsynchronized(c) && (skip is null || !skip.Contains(c)) &&
                (oldest.IsNull || h->SealedAt < oldest.Header->SealedAt))
            {
                oldest = c;
            }
        }

        return oldest;
    }

    /// <summary>
    /// Evicts or keeps the one entry of a large-value block. Kept (count above 0, and <paramref name="secondChance"/>):
    /// the block moves to the head of the main region's list, its count reset (from probation) or lowered by one (in
    /// main); no bytes are copied. False when the
    /// block holds no published entry yet: a large move's copy, reserved but not yet filled [C6].
    /// </summary>
    private bool EvictBlockUnsynchronized(ChunkHeader* h, bool secondChance)
    {
        byte* e = (byte*)h + Chunk.HeaderSize;
        var entry = new EntryReader(e);
        ulong hash = _settings.Hasher.Hash(entry.Key);
        var t = (IndexTable*)_table;
        long slot = Probe.Find(t, hash, new AddressMatch(e), out ulong word);
        if (slot < 0)
        {
            return false;
        }

        if (entry.HasExpiry && Clock.Now() >= EffectiveDeadlineUnsynchronized(t, slot, entry))
        {
            DropUnsynchronized(t, slot, word, hash, evicted: false, h->Region);
            return true;
        }

        if (!secondChance || !IndexWord.IsMarked(word))
        {
            DropUnsynchronized(t, slot, word, hash, evicted: true, h->Region);
            return true;
        }

        // [I9] Under the lock only readers change this word, and only its count: a plain release store of the same
        // entry with a lower count can lose a read that raced it (the entry looks colder), never a writer's word.
        // S3-FIFO: promotion from probation starts the count afresh; a second chance in main costs one.
        Volatile.Write(ref IndexTable.Slots(t)[slot], h->Region == Chunk.ProbationRegion ? IndexWord.Unmarked(word) : IndexWord.Cooled(word));
        BlocksOf(h->Region).Unlink(h);
        if (h->Region == Chunk.ProbationRegion)
        {
            _mainBytes += h->Capacity;
            h->Region = Chunk.MainRegion;
        }

        h->SealedAt = _seals;
        _mainBlocks.PushHead(h);
        Volatile.Write(ref _secondChances, _secondChances + 1);
        return true;
    }

    /// <summary>
    /// Inline eviction of a sealed chunk under the lock, copying nothing: every live entry is dropped (with
    /// <paramref name="keepMarked"/>, those read since eviction last saw them stay, their count back at 0), then the
    /// chunk retires if it emptied.
    /// Returns whether it did.
    /// </summary>
    private bool DropChunkUnsynchronized(Chunk chunk, bool keepMarked)
    {
        ChunkHeader* h = chunk.Header;
        byte region = h->Region;
        int used = h->Used;

        // [C4] Pinned while it is walked, so the drop of its last entry does not retire (and a drain free) it under us;
        // unpinned whatever happens (the ghost set's growth can throw out-of-memory).
        h->Flags |= Chunk.PinnedFlag;
        try
        {
            DropEntriesUnsynchronized(chunk, used, region, keepMarked);
        }
        finally
        {
            h->Flags &= unchecked((byte)~Chunk.PinnedFlag);
        }

        if (h->LiveBytes == 0)
        {
            RetireChunkUnsynchronized(chunk);
            return true;
        }

        return false;
    }

    private void DropEntriesUnsynchronized(Chunk chunk, int used, byte region, bool keepMarked)
    {
        ChunkHeader* h = chunk.Header;
        long now = 0;
        for (int offset = Chunk.HeaderSize; offset < used && h->LiveBytes > 0;)
        {
            byte* e = chunk.Base + offset;
            var entry = new EntryReader(e);
            offset += (int)entry.TotalSize;
            ulong hash = _settings.Hasher.Hash(entry.Key);
            var t = (IndexTable*)_table;
            long slot = Probe.Find(t, hash, new AddressMatch(e), out ulong word);
            if (slot >= 0)
            {
                bool expired = false;
                if (entry.HasExpiry)
                {
                    now = now != 0 ? now : Clock.Now();
                    expired = now >= EffectiveDeadlineUnsynchronized(t, slot, entry);
                }

                if (keepMarked && !expired && IndexWord.IsMarked(word))
                {
                    // [I9] Only readers change this word under the lock, and only its count: a count of 0 stored over
                    // a read that raced it only makes the entry look colder. The emergency path keeps an entry once
                    // (CLOCK's second chance), whatever its count, so that a writer over budget frees memory within
                    // two passes even when everything is hot; the compactor's walk lowers counts one at a time.
                    Volatile.Write(ref IndexTable.Slots(t)[slot], IndexWord.Unmarked(word));
                    Volatile.Write(ref _secondChances, _secondChances + 1);
                    continue;
                }

                DropUnsynchronized(t, slot, word, hash, evicted: !expired, region);
            }
        }
    }

    /// <summary>With a budget, after a new chunk or block: ask the compactor to evict once the map passes 98% of it.</summary>
    private void MaybeRequestEvictionUnsynchronized()
    {
        if (Budget is { NeedsEviction: true })
        {
            _settings.CompactionRequests?.Request();
        }
    }
}
