using System;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>The one write path: look the key up under the lock, let the operation decide, then put or remove.</summary>
internal unsafe partial struct Shard
{
    /// <summary>
    /// Runs <paramref name="operation"/> on <paramref name="key"/> under the shard lock. Lengths were checked by the
    /// caller. A put stores <paramref name="expiry"/> with the new entry; <paramref name="now"/> is the timestamp the
    /// caller resolved it at (the entry's first access), or 0 when it has none. An expired entry counts as absent, and
    /// is removed. Throws
    /// out-of-memory with nothing changed [I7], and <see cref="ObjectDisposedException"/> once the shard is disposed.
    /// </summary>
    internal WriteOutcome Write<TOperation>(ReadOnlySpan<byte> key, ulong hash, ref TOperation operation, in EntryExpiry expiry, long now)
        where TOperation : struct, IWriteOperation, allows ref struct =>
        Write(key, hash, ref operation, expiry, now, mayDefer: false, out _);

    /// <summary>
    /// <see cref="Write{TOperation}(ReadOnlySpan{byte}, ulong, ref TOperation, in EntryExpiry, long)"/>; with
    /// <paramref name="mayDefer"/> and a budget, a put whose append (the entry, and the chunk or block it would need)
    /// would take the map past the budget does nothing and returns <see cref="WriteOutcome.NeedsRoom"/> with the bytes
    /// it needs, so that the caller makes room with no lock held and retries.
    /// </summary>
    internal WriteOutcome Write<TOperation>(ReadOnlySpan<byte> key, ulong hash, ref TOperation operation, in EntryExpiry expiry, long now, bool mayDefer, out long bytesNeeded)
        where TOperation : struct, IWriteOperation, allows ref struct
    {
        using ShardLock.Scope scope = _lock.EnterScope();
        ThrowIfDisposedUnsynchronized();
        bytesNeeded = 0;
        if (mayDefer && TOperation.MayPut && Budget is { } budget)
        {
            bytesNeeded = AllocationForUnsynchronized(EntryLayout.SizeOf(key.Length, operation.Value.Length, expiry));
            if (budget.IsOver(bytesNeeded))
            {
                return WriteOutcome.NeedsRoom;
            }
        }
        var t = (IndexTable*)_table;
        long slot = Probe.Find(t, hash, new KeyMatch(key), out ulong word, out long insertAt);
        bool found = slot >= 0;
        bool expired = false;
        ReadOnlySpan<byte> current = default;
        if (found)
        {
            var entry = new EntryReader(IndexWord.Address(word));
            if (entry.HasExpiry)
            {
                // The clock read here, under the lock: the caller's timestamp may predate a wait for the lock, and an
                // entry that expired meanwhile must count as absent (never returned late).
                expired = Clock.Now() >= EffectiveDeadlineUnsynchronized(t, slot, entry);
            }

            found = !expired;
            current = found ? entry.Value : default;
        }

        WriteAction action = operation.Decide(found, current);
        long* region = null;
        if (TOperation.ReturnsPrevious && found && action != WriteAction.None)
        {
            // [I11] Entered before anything changes: whatever this write retires (the old entry's block or chunk) is
            // retired after this announce, so it stays readable until the caller, lock released, has copied the old
            // value out and leaves the region.
            region = _epoch.Enter();
            operation.SetPrevious(current, region);
        }

        try
        {
            switch (action)
            {
                case WriteAction.Put:
                    PutUnsynchronized(t, key, operation.Value, hash, slot, word, insertAt, expiry, now);
                    CountExpiredUnsynchronized(expired);
                    return found ? WriteOutcome.Replaced : WriteOutcome.Added;
                case WriteAction.Remove when found:
                    RemoveUnsynchronized(t, slot, word, shrink: true);
                    Volatile.Write(ref _removals, _removals + 1);
                    return WriteOutcome.Removed;
                default:
                    if (expired)
                    {
                        // Found expired and left alone by the operation: it is gone for every reader already; free it.
                        RemoveUnsynchronized(t, slot, word, shrink: true);
                        CountExpiredUnsynchronized(true);
                    }

                    return WriteOutcome.Unchanged;
            }
        }
        catch when (region != null)
        {
            // A put that failed (out of memory) changed nothing [I7]; nothing is handed back either.
            EpochDomain.Exit(region);
            operation.SetPrevious(default, null);
            throw;
        }
    }

    private void CountExpiredUnsynchronized(bool expired)
    {
        if (expired)
        {
            Volatile.Write(ref _expirations, _expirations + 1);
        }
    }

    private void PutUnsynchronized(IndexTable* t, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong hash, long slot, ulong oldWord, long insertAt, in EntryExpiry expiry, long now)
    {
        if (slot < 0 && IndexTable.Slots(t)[insertAt] == IndexWord.Empty && t->Live + t->Tombstones + 1 > t->MaxUsed)
        {
            // Grow when live slots dominate; otherwise rebuild at the same size to purge tombstones. Allocation
            // failure throws here, before anything has changed. The key is known to be absent, so the new table
            // is probed only for a free slot, with no key comparisons.
            long cap = t->Live + 1 > t->Capacity * 3 / 8 ? t->Capacity * 2 : t->Capacity;
            RebuildUnsynchronized(cap);
            t = (IndexTable*)_table;
            Probe.Find(t, hash, default(NoMatch), out _, out insertAt);
        }

        if (expiry.Window > 0 && t->Access == null)
        {
            // [I10] Before the first sliding word of this table is published; throws out-of-memory with nothing changed.
            AttachAccessArrayUnsynchronized(t);
        }

        // With a budget, a new entry starts on probation unless its key was evicted from probation recently (the
        // ghost set): then it was evicted too soon, and goes straight to the main region. A replacement keeps the
        // region of the entry it replaces.
        byte region = Budget is null ? Chunk.ProbationRegion
            : slot >= 0 ? RegionOf(oldWord)
            : _ghost is { } ghost && ghost.TryTake(hash) ? Chunk.MainRegion : Chunk.ProbationRegion;

        // Append first: if it throws (out of memory), the index still points at the old value [I7].
        long size = EntryLayout.SizeOf(key.Length, value.Length, expiry);
        byte* entry = AppendUnsynchronized(size, region, out int sizeClass);
        EntryLayout.Write(entry, key, value, expiry);
        if (expiry.IsSet)
        {
            NoteExpiringEntryUnsynchronized(entry, sizeClass, expiry, now);
        }

        ulong word = IndexWord.Make(hash, sizeClass, entry);
        ulong* slots = IndexTable.Slots(t);
        Volatile.Write(ref _liveBytes, _liveBytes + size);
        long at = slot >= 0 ? slot : insertAt;
        if (slot >= 0 && new EntryReader(IndexWord.Address(oldWord)).Window > 0)
        {
            // [I10] The entry replaced has a window, so its readers may be about to read this slot's access cell: the
            // word first, then the new entry's first access. A reader of the old word that loads the new time has
            // therefore already been able to see the new word (it reloads the word after the cell, finds it changed,
            // and looks again), so it never judges the old entry by the new one's time. [I1] Both are release stores:
            // on x64 stores are never reordered with one another; on Arm64 the second stlr orders the first before it.
            Volatile.Write(ref slots[slot], word);
            if (expiry.Window > 0)
            {
                Volatile.Write(ref t->Access[at], now);
            }

            KillUnsynchronized(oldWord);
            MaybeRequestCompactionUnsynchronized();
            return;
        }

        if (expiry.Window > 0)
        {
            // [I10] The write is the entry's first access, stored before the word that publishes it (I1). A release
            // store, so that a reader which loads it also sees an earlier lock holder's tombstone in this slot (on x64
            // any store is one; on Arm64 stlr, after the lock's acquire).
            Volatile.Write(ref t->Access[at], now);
        }

        if (slot >= 0)
        {
            // [I1] Release store: publishes the entry written above. A reader sees the old entry or the new one.
            Volatile.Write(ref slots[slot], word);
            KillUnsynchronized(oldWord);
            MaybeRequestCompactionUnsynchronized();
            return;
        }

        if (slots[insertAt] == IndexWord.Tombstone)
        {
            t->Tombstones--;
        }

        // [I1] Release store, as above.
        Volatile.Write(ref slots[insertAt], word);
        t->Live++;
        Volatile.Write(ref _count, _count + 1);
    }

    /// <summary>
    /// Unpublishes the word in <paramref name="slot"/> and kills its entry. <paramref name="shrink"/>: rebuild a table
    /// left sparse; never while the caller walks the table or holds a slot it will use again (sweeps, eviction).
    /// </summary>
    private void RemoveUnsynchronized(IndexTable* t, long slot, ulong oldWord, bool shrink)
    {
        ulong* slots = IndexTable.Slots(t);
        t->Live--;
        ulong size = t->Size;
        if (slots[IndexTable.NextSlot((ulong)slot, size)] == IndexWord.Empty)
        {
            // [I3] The chain ends here: no key is reachable only through this slot, so it can become Empty, and so
            // can the tombstones just before it. Readers then stop earlier; nothing they must find lies beyond.
            Volatile.Write(ref slots[slot], IndexWord.Empty);
            for (ulong j = IndexTable.PreviousSlot((ulong)slot, size); slots[j] == IndexWord.Tombstone; j = IndexTable.PreviousSlot(j, size))
            {
                Volatile.Write(ref slots[j], IndexWord.Empty);
                t->Tombstones--;
            }
        }
        else
        {
            // [I3] Release store; the tombstone keeps later slots of the probe chain reachable for readers.
            Volatile.Write(ref slots[slot], IndexWord.Tombstone);
            t->Tombstones++;
        }

        Volatile.Write(ref _count, _count - 1);
        KillUnsynchronized(oldWord);
        MaybeRequestCompactionUnsynchronized();

        // Shrink a table left sparse by mass deletes (the rebuild also drops the tombstones).
        if (shrink && t->Capacity > _minCapacity && t->Live * 8 < t->Capacity)
        {
            TryRebuildUnsynchronized(FittedCapacityUnsynchronized(t->Live));
        }
    }
}
