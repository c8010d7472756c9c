using System;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>The one write path: look the key up under the lock, let the operation decide, then put or remove.</summary>
internal sealed unsafe partial class Shard
{
    /// <summary>
    /// Runs <paramref name="operation"/> on <paramref name="key"/> under the shard lock. Lengths were checked by the
    /// caller. Throws out-of-memory with nothing changed [I7], and <see cref="ObjectDisposedException"/> once the
    /// shard is disposed.
    /// </summary>
    internal WriteOutcome Write<TOperation>(ReadOnlySpan<byte> key, ulong hash, ref TOperation operation)
        where TOperation : struct, IWriteOperation, allows ref struct
    {
        using Lock.Scope scope = _lock.EnterScope();
        ThrowIfDisposedUnsynchronized();
        var t = (IndexTable*)_table;
        long slot = Probe.Find(t, hash, new KeyMatch(key), out ulong word, out long insertAt);
        bool found = slot >= 0;
        ReadOnlySpan<byte> current = found ? new EntryReader(IndexWord.Address(word)).Value : default;
        switch (operation.Decide(found, current))
        {
            case WriteAction.Put:
                PutUnsynchronized(t, key, operation.Value, hash, slot, word, insertAt);
                return found ? WriteOutcome.Replaced : WriteOutcome.Added;
            case WriteAction.Remove when found:
                RemoveUnsynchronized(t, slot, word);
                return WriteOutcome.Removed;
            default:
                return WriteOutcome.Unchanged;
        }
    }

    private void PutUnsynchronized(IndexTable* t, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong hash, long slot, ulong oldWord, long insertAt)
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

        // Append first: if it throws (out of memory), the index still points at the old value [I7].
        long size = EntryLayout.SizeOf(key.Length, value.Length, hasExpiry: false);
        byte* entry = AppendUnsynchronized(size, out int sizeClass);
        EntryLayout.Write(entry, key, value);
        ulong word = IndexWord.Make(hash, sizeClass, entry);
        ulong* slots = IndexTable.Slots(t);
        Volatile.Write(ref _liveBytes, _liveBytes + size);

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

    private void RemoveUnsynchronized(IndexTable* t, long slot, ulong oldWord)
    {
        ulong* slots = IndexTable.Slots(t);
        t->Live--;
        ulong mask = t->Mask;
        if (slots[((ulong)slot + 1) & mask] == IndexWord.Empty)
        {
            // [I3] The chain ends here: no key is reachable only through this slot, so it can become Empty, and so
            // can the tombstones just before it. Readers then stop earlier; nothing they must find lies beyond.
            Volatile.Write(ref slots[slot], IndexWord.Empty);
            for (ulong j = ((ulong)slot - 1) & mask; slots[j] == IndexWord.Tombstone; j = (j - 1) & mask)
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
        if (t->Capacity > _minCapacity && t->Live * 8 < t->Capacity)
        {
            TryRebuildUnsynchronized(FittedCapacityUnsynchronized(t->Live));
        }
    }
}
