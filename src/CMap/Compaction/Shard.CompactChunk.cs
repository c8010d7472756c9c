using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>What a walk over one chunk does with each live entry it finds.</summary>
internal enum ChunkWalk : byte
{
    /// <summary>Compaction: move every entry (expired ones are dropped instead), then retire the chunk.</summary>
    Compact,

    /// <summary>Expiry sweep: drop expired entries and leave the rest in place.</summary>
    Sweep,

    /// <summary>Eviction: move marked entries to the main region (a second chance), drop the rest, retire the chunk.</summary>
    Evict,
}

/// <summary>Walking one chunk's entries batch by batch, moving or dropping them, with large entries moved outside the lock [C3][C6].</summary>
internal unsafe partial struct Shard
{
    /// <summary>
    /// Walks <paramref name="chunk"/> as <paramref name="walk"/> says; compaction and eviction retire it at the end.
    /// <paramref name="listIndex"/> is where the chunk was in the shard's list when it was chosen. False if the shard
    /// was cleared or disposed meanwhile.
    /// </summary>
    private bool WalkChunk(Chunk chunk, int listIndex, long generation, ChunkWalk walk)
    {
        int offset = Chunk.HeaderSize;
        long moved = 0;
        long now = 0; // read once, on the first entry that expires
        long nextSweep = long.MaxValue;
        bool pinned = false;
        // [C8] The hashes of the entries just ahead of the walk, computed early so that their home slots are
        // prefetched: the probe of each entry then finds its index line loading or loaded, instead of taking its
        // cache miss in turn (CompactionBench, first Compact(): 491-517 MB/s without, 777-1,017 MB/s with).
        ulong* ahead = stackalloc ulong[LookaheadEntries];
        while (true)
        {
            byte* large = null;
            long largeSize = 0;
            byte largeRegion = 0;
            using (_lock.EnterScope())
            {
                // [C2] Cleared or disposed since the last batch: the chunk is retired; do not touch it.
                if (_disposed || _generation != generation)
                {
                    return false;
                }

                if (!pinned)
                {
                    // [C3] Chosen before this lock hold: skip it if its entries all died meanwhile (it was retired,
                    // and may even have been rented again). Only a sweep may walk a tail, which stays in place.
                    if (IndexOfChunkUnsynchronized(chunk, listIndex) < 0 ||
                        (walk != ChunkWalk.Sweep && IsTailUnsynchronized(chunk)) || (chunk.Header->Flags & Chunk.PinnedFlag) != 0)
                    {
                        return true;
                    }

                    // [C4] From here on only this walk retires the chunk.
                    chunk.Header->Flags |= Chunk.PinnedFlag;
                    pinned = true;
                }

                ChunkHeader* h = chunk.Header;
                try
                {
                    long copied = 0;
                    int scanned = 0;
                    int used = h->Used;
                    var hinted = (IndexTable*)_table; // the table the prefetches aim at (a hint: a stale one costs nothing)
                    int aheadOffset = offset;
                    int hashedAhead = 0;
                    while (offset < used && h->LiveBytes > 0 && scanned < CompactionBatchEntries)
                    {
                        while (hashedAhead - scanned < LookaheadEntries && aheadOffset < used)
                        {
                            aheadOffset += HashAhead(chunk.Base + aheadOffset, hinted, walk, out ahead[hashedAhead & (LookaheadEntries - 1)]);
                            hashedAhead++;
                        }

                        byte* e = chunk.Base + offset;
                        var entry = new EntryReader(e);
                        long size = entry.TotalSize;
                        ulong hash = ahead[scanned & (LookaheadEntries - 1)];
                        scanned++;
                        if (walk == ChunkWalk.Sweep && !entry.HasExpiry)
                        {
                            offset += (int)size; // a sweep leaves entries that never expire alone, unhashed
                            continue;
                        }

                        var t = (IndexTable*)_table;
                        long slot = Probe.Find(t, hash, new AddressMatch(e), out ulong word);
                        if (slot < 0)
                        {
                            offset += (int)size; // dead
                            continue;
                        }

                        long deadline = long.MaxValue;
                        if (entry.HasExpiry)
                        {
                            now = now != 0 ? now : Clock.Now();
                            deadline = EffectiveDeadlineUnsynchronized(t, slot, entry);
                            if (now >= deadline)
                            {
                                DropUnsynchronized(t, slot, word, hash, evicted: false, chunk.Header->Region);
                                offset += (int)size;
                                continue;
                            }
                        }

                        if (walk == ChunkWalk.Sweep || (walk == ChunkWalk.Evict && !IndexWord.IsMarked(word)))
                        {
                            if (walk == ChunkWalk.Evict)
                            {
                                DropUnsynchronized(t, slot, word, hash, evicted: true, h->Region);
                            }
                            else
                            {
                                nextSweep = System.Math.Min(nextSweep, deadline);
                            }

                            offset += (int)size;
                            continue;
                        }

                        // A move: compaction keeps the entry's region; eviction's second chance goes to main.
                        byte region = walk == ChunkWalk.Evict ? Chunk.MainRegion : h->Region;
                        if (size > CompactionBatchBytes)
                        {
                            // [C6] Too large for a batch: reserve its copy now, copy it after releasing the lock.
                            large = e;
                            largeSize = size;
                            largeRegion = region;
                            offset += (int)size;
                            break;
                        }

                        if (copied + size > CompactionBatchBytes)
                        {
                            scanned--;
                            break; // next batch: this entry would take the batch past its budget
                        }

                        MoveUnsynchronized(slot, e, size, hash, h, region, walk);
                        copied += size;
                        moved += size;
                        offset += (int)size;
                    }

                    if (copied > _maxBytesCopiedUnderLock)
                    {
                        Volatile.Write(ref _maxBytesCopiedUnderLock, copied);
                    }

                    if (large == null)
                    {
                        if (h->LiveBytes > 0 && offset < h->Used)
                        {
                            continue; // next batch, after letting writers in
                        }

                        h->Flags &= unchecked((byte)~Chunk.PinnedFlag);
                        if (walk == ChunkWalk.Sweep)
                        {
                            FinishSweepUnsynchronized(chunk, now, nextSweep);
                            return true;
                        }

                        // Live bytes may remain: a large move outside the lock [C6] by an inline eviction (which runs
                        // without the compaction gate) can have reserved its copy in this chunk before it was sealed.
                        // The chunk is then left for its last entry's death to retire.
                        if (h->LiveBytes == 0)
                        {
                            Volatile.Write(ref _bytesReclaimed, _bytesReclaimed + chunk.Capacity - moved);
                            Volatile.Write(ref _chunksCompacted, _chunksCompacted + 1);
                            RetireChunkUnsynchronized(chunk);
                        }

                        return true;
                    }
                }
                catch
                {
                    // Out of memory for the copy: the entry was not moved and its word still points into this chunk.
                    // Unpin so that writers can retire the chunk once its last entry dies, and report the failure.
                    h->Flags &= unchecked((byte)~Chunk.PinnedFlag);
                    if (h->LiveBytes == 0 && !IsTailUnsynchronized(chunk))
                    {
                        RetireChunkUnsynchronized(chunk);
                    }

                    throw;
                }
            }

            if (!MoveLarge(chunk, large, largeSize, largeRegion, walk, generation, ref moved))
            {
                return false;
            }
        }
    }

    /// <summary>Entries a chunk walk hashes ahead of itself [C8]; a power of two.</summary>
    private const int LookaheadEntries = 16;

    /// <summary>
    /// [C8] Hashes the entry at <paramref name="entry"/> for a walk that will reach it shortly, and prefetches its home
    /// slot in <paramref name="table"/> (x64; elsewhere only the hash). A sweep does not hash entries that never
    /// expire. Returns the entry's size, so the caller can step to the next one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int HashAhead(byte* entry, IndexTable* table, ChunkWalk walk, out ulong hash)
    {
        var reader = new EntryReader(entry);
        if (walk == ChunkWalk.Sweep && !reader.HasExpiry)
        {
            hash = 0;
        }
        else
        {
            hash = _settings.Hasher.Hash(reader.Key);
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(IndexTable.Slots(table) + IndexTable.HomeSlot(hash, table->Size));
            }
        }

        return (int)reader.TotalSize;
    }

    /// <summary>
    /// [C6] Moves one entry larger than a batch: its copy is reserved under the lock, filled outside it inside an
    /// epoch region (which keeps both the pinned source and the destination readable even if Clear retires them),
    /// and published under the lock only if the word still points at the old copy; otherwise the racing write won
    /// and the copy is dead. False if the shard was cleared or disposed meanwhile.
    /// </summary>
    private bool MoveLarge(Chunk chunk, byte* entry, long size, byte region, ChunkWalk walk, long generation, ref long moved)
    {
        byte* copy;
        int sizeClass;
        long* epochSlot;
        using (_lock.EnterScope())
        {
            if (_disposed || _generation != generation)
            {
                return false;
            }

            try
            {
                copy = AppendUnsynchronized(size, region, out sizeClass);
            }
            catch
            {
                chunk.Header->Flags &= unchecked((byte)~Chunk.PinnedFlag);
                throw;
            }

            // The header and expiry field first (at most 24 bytes), so the reserved bytes already parse as an entry
            // of the right size for any walk of this chunk before the copy is published.
            var source = new EntryReader(entry);
            long prefix = size - source.KeyLength - source.ValueLength;
            System.Buffer.MemoryCopy(entry, copy, prefix, prefix);

            // [C6] Entered before the lock is released: a Clear between the two could otherwise retire, and a drain
            // free, both blocks before this region is announced.
            epochSlot = _epoch.Enter();
        }

        System.Buffer.MemoryCopy(entry, copy, size, size);
        EpochDomain.Exit(epochSlot);

        using (_lock.EnterScope())
        {
            if (_disposed || _generation != generation)
            {
                return false;
            }

            Volatile.Write(ref _largeMovesOutsideLock, _largeMovesOutsideLock + 1);
            ulong hash = _settings.Hasher.Hash(new EntryReader(copy).Key);
            long slot = Probe.Find((IndexTable*)_table, hash, new AddressMatch(entry), out ulong current);
            if (slot >= 0)
            {
                // [I1][C1] Release store, as for a batched move, with the access count carried the same way [I9].
                Volatile.Write(ref IndexTable.Slots((IndexTable*)_table)[slot], IndexWord.Make(hash, sizeClass, copy) | CarriedCount(current, walk, chunk.Header->Region));
                CountMovedOutUnsynchronized(chunk.Header, size);
                NoteMovedEntryUnsynchronized(copy, sizeClass);
                moved += size;
            }
            else
            {
                // [C6] A write replaced or removed the entry meanwhile: it wins, and the copy was never published.
                Volatile.Write(ref _largeMovesLostToWriters, _largeMovesLostToWriters + 1);
                ReleaseEntryBytesUnsynchronized(copy, sizeClass, size);
            }
        }

        return true;
    }

    /// <summary>
    /// Copies a live entry to the tail of <paramref name="region"/> and swings its word to the copy [C1]. The access
    /// count: compaction carries it over; eviction's second chance (S3-FIFO) starts it afresh for an entry promoted
    /// from probation and lowers it by one for an entry kept in main.
    /// </summary>
    private void MoveUnsynchronized(long slot, byte* entry, long size, ulong hash, ChunkHeader* from, byte region, ChunkWalk walk)
    {
        byte* copy = AppendUnsynchronized(size, region, out int sizeClass);
        System.Buffer.MemoryCopy(entry, copy, size, size);
        var t = (IndexTable*)_table; // appending never rebuilds the index, so the slot still holds the old word
        ref ulong w = ref IndexTable.Slots(t)[slot];

        // [I1][C1] Release store: the copy's bytes are visible before the word that points at them. The old copy
        // stays intact (entries are immutable) and readable until its chunk's grace period ends. [I9] A read's count
        // raised between this load of the count and the store is lost: the entry only looks colder.
        Volatile.Write(ref w, IndexWord.Make(hash, sizeClass, copy) | CarriedCount(Volatile.Read(ref w), walk, from->Region));
        CountMovedOutUnsynchronized(from, size);
        NoteMovedEntryUnsynchronized(copy, sizeClass);
    }

    /// <summary>
    /// The access count a moved entry's new word carries, from its current word: compaction keeps it; eviction's second
    /// chance (S3-FIFO) starts it afresh for an entry promoted from probation and lowers it by one in main.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong CarriedCount(ulong current, ChunkWalk walk, byte fromRegion) =>
        walk == ChunkWalk.Compact ? current & IndexWord.CountMask
        : fromRegion == Chunk.ProbationRegion ? 0
        : IndexWord.Cooled(current) & IndexWord.CountMask;

    private void CountMovedOutUnsynchronized(ChunkHeader* from, long size)
    {
        from->LiveBytes -= size;
        from->DeadBytes += size;
        Volatile.Write(ref _deadBytes, _deadBytes + size);
        Volatile.Write(ref _bytesMoved, _bytesMoved + size);
    }
}
