using System;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// Expiry without reads: every chunk and block header keeps a lower bound on the deadlines of its entries
/// (<see cref="ChunkHeader.SweepAt"/>), and the shard the least of them, so the map's timer finds due shards by
/// reading one field each, and a sweep walks only the chunks that hold something due. A chunk is swept at most once
/// per <see cref="CMapConfig.ExpirationScanInterval"/>.
/// </summary>
internal unsafe partial struct Shard
{

    internal long NextSweepAt => Volatile.Read(ref _nextSweepAt);

    /// <summary>Asks for a sweep (timer thread).</summary>
    internal void RequestSweep() => Interlocked.Exchange(ref _sweepRequested, 1);

    /// <summary>Takes this shard's pending sweep request, if any (compactor thread).</summary>
    internal bool TakeSweepRequest() => Interlocked.Exchange(ref _sweepRequested, 0) != 0;

    /// <summary>The instant the entry in <paramref name="slot"/> leaves (its deadline, or last access plus window).</summary>
    private static long EffectiveDeadlineUnsynchronized(IndexTable* t, long slot, in EntryReader entry)
    {
        long window = entry.Window;
        return window == 0 ? entry.Deadline : ExpiryClock.EffectiveDeadline(entry.Deadline, window, Volatile.Read(ref t->Access[slot]));
    }

    /// <summary>After a put of an expiring entry: lower its block's and the shard's sweep times (the map arms the timer once the lock is released).</summary>
    private void NoteExpiringEntryUnsynchronized(byte* entry, int sizeClass, in EntryExpiry expiry, long now)
    {
        // A sliding entry cannot expire before its window has passed since this write.
        long bound = expiry.Window > 0 ? Math.Min(expiry.Deadline, ExpiryClock.SaturatingAdd(now, expiry.Window)) : expiry.Deadline;
        LowerSweepAtUnsynchronized(Chunk.HeaderOf(entry, sizeClass, Pool.ClassSizes), bound);
    }

    /// <summary>After compaction or eviction copied an entry: its new chunk must be swept for it too.</summary>
    private void NoteMovedEntryUnsynchronized(byte* copy, int sizeClass)
    {
        var entry = new EntryReader(copy);
        if (entry.HasExpiry)
        {
            // A sliding entry's last access is in the index, not the entry: sweep the new chunk at the next tick,
            // which computes the exact time and sets the chunk's next sweep from it.
            LowerSweepAtUnsynchronized(Chunk.HeaderOf(copy, sizeClass, Pool.ClassSizes), entry.Window > 0 ? 0 : entry.Deadline);
        }
    }

    private void LowerSweepAtUnsynchronized(ChunkHeader* h, long bound)
    {
        if (bound < h->SweepAt)
        {
            h->SweepAt = bound;
        }

        if (bound < _nextSweepAt)
        {
            Volatile.Write(ref _nextSweepAt, bound);
        }
    }

    /// <summary>
    /// Removes the expired entries of every chunk and block whose sweep time has come, leaving the rest in place
    /// (compaction reclaims the dead bytes this makes, by its usual thresholds). The caller holds the map's
    /// compaction gate. Returns the chunks swept.
    /// </summary>
    internal int SweepExpired()
    {
        long generation;
        long now;
        System.Collections.Generic.List<WalkCandidate> candidates = _settings.WalkCandidates; // the map's, lent under its compaction gate
        candidates.Clear();
        using (_lock.EnterScope())
        {
            if (_disposed)
            {
                return 0;
            }

            generation = _generation;
            now = Clock.Now();
            for (int i = 0; i < _chunks.Count; i++)
            {
                if (_chunks[i].Header->SweepAt <= now)
                {
                    candidates.Add(new WalkCandidate(_chunks[i], i, 0));
                }
            }

            SweepBlocksUnsynchronized(ref _probationBlocks, now);
            SweepBlocksUnsynchronized(ref _mainBlocks, now);
        }

        int swept = 0;
        foreach (WalkCandidate c in candidates)
        {
            if (!WalkChunk(c.Chunk, c.ListIndex, generation, ChunkWalk.Sweep))
            {
                break;
            }

            swept++;
        }

        candidates.Clear();
        using (_lock.EnterScope())
        {
            long next = long.MaxValue;
            foreach (Chunk c in _chunks)
            {
                next = Math.Min(next, c.Header->SweepAt);
            }

            next = Math.Min(next, Math.Min(LeastSweepAt(_probationBlocks), LeastSweepAt(_mainBlocks)));
            Volatile.Write(ref _nextSweepAt, next);
        }

        return swept;
    }

    /// <summary>After a sweep walked <paramref name="chunk"/>: retire it if it emptied, else set its next sweep.</summary>
    private void FinishSweepUnsynchronized(Chunk chunk, long now, long nextDeadline)
    {
        ChunkHeader* h = chunk.Header;
        if (h->LiveBytes == 0)
        {
            // Everything in it expired: give it back, a tail too (sealing an empty tail retires it), so that an idle
            // map whose entries all expired holds only its index.
            if (chunk == _tail)
            {
                SealTailUnsynchronized(Chunk.ProbationRegion);
            }
            else if (chunk == _mainTail)
            {
                SealTailUnsynchronized(Chunk.MainRegion);
            }
            else
            {
                RetireChunkUnsynchronized(chunk);
            }

            return;
        }

        h->SweepAt = nextDeadline == long.MaxValue ? long.MaxValue : Math.Max(nextDeadline, ExpiryClock.SaturatingAdd(now, _settings.SweepIntervalTicks));
    }

    private void SweepBlocksUnsynchronized(ref BlockList list, long now)
    {
        for (ChunkHeader* h = list.Head; h != null;)
        {
            ChunkHeader* next = h->Next; // read first: dropping the entry retires the block
            if (h->SweepAt <= now)
            {
                byte* e = (byte*)h + Chunk.HeaderSize;
                var entry = new EntryReader(e);
                ulong hash = _settings.Hasher.Hash(entry.Key);
                var t = (IndexTable*)_table;
                long slot = Probe.Find(t, hash, new AddressMatch(e), out ulong word);
                long deadline = slot >= 0 ? EffectiveDeadlineUnsynchronized(t, slot, entry) : long.MaxValue;
                if (slot >= 0 && now >= deadline)
                {
                    DropUnsynchronized(t, slot, word, hash, evicted: false, h->Region);
                }
                else
                {
                    h->SweepAt = Math.Max(deadline, ExpiryClock.SaturatingAdd(now, _settings.SweepIntervalTicks));
                }
            }

            h = next;
        }
    }

    private static long LeastSweepAt(BlockList list)
    {
        long least = long.MaxValue;
        for (ChunkHeader* h = list.Head; h != null; h = h->Next)
        {
            least = Math.Min(least, h->SweepAt);
        }

        return least;
    }

    /// <summary>
    /// Removes the live entry in <paramref name="slot"/> because it expired or (<paramref name="evicted"/>) to make
    /// room. An entry evicted from probation without a read leaves its fingerprint in the ghost set.
    /// </summary>
    private void DropUnsynchronized(IndexTable* t, long slot, ulong word, ulong hash, bool evicted, byte region)
    {
        RemoveUnsynchronized(t, slot, word, shrink: false);
        if (!evicted)
        {
            Volatile.Write(ref _expirations, _expirations + 1);
            return;
        }

        Volatile.Write(ref _evictions, _evictions + 1);
        if (region == Chunk.ProbationRegion)
        {
            (_ghost ??= new GhostSet(_count)).Add(hash, _count);
        }
    }
}
