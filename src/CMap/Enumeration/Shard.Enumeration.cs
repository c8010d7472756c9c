using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>Copying a shard's live entries out, for enumeration and snapshots.</summary>
internal unsafe partial struct Shard
{
    /// <summary>
    /// Appends every live, unexpired entry of the shard to <paramref name="buffer"/>, lock-free, inside the map's epoch
    /// region (which keeps the table and the entries readable while it copies): writers, the compactor and rebuilds go
    /// on meanwhile, and the copy sees each key at most once (one table) with an old or a new value. Throws
    /// <see cref="System.ObjectDisposedException"/> once the map is disposed. Returns the entries copied.
    /// </summary>
    internal int CopyEntriesTo(ref EntryBuffer buffer)
    {
        long* region = _epoch.Enter();
        try
        {
            // [I2] Acquire: the table's slots were filled before its pointer was published.
            var t = (IndexTable*)Volatile.Read(ref _table);
            return CopyTableUnsynchronized(t, ref buffer);
        }
        finally
        {
            EpochDomain.Exit(region);
        }
    }

    /// <summary>
    /// As <see cref="CopyEntriesTo"/>, under the shard lock: a copy of the shard at one instant, for snapshots. The
    /// shard's writers wait for it (its readers never do); no stream runs under the lock.
    /// </summary>
    internal int CopyEntriesAtOneInstant(ref EntryBuffer buffer)
    {
        using ShardLock.Scope scope = _lock.EnterScope();
        ThrowIfDisposedUnsynchronized();
        return CopyTableUnsynchronized((IndexTable*)_table, ref buffer);
    }

    private int CopyTableUnsynchronized(IndexTable* t, ref EntryBuffer buffer)
    {
        ulong* slots = IndexTable.Slots(t);
        long capacity = t->Capacity;
        long now = 0;
        int copied = 0;
        for (long i = 0; i < capacity; i++)
        {
            IndexTable.PrefetchAhead(slots, i, capacity);

            // [I1] Acquire: the entry's bytes were written before the word that points at them.
            ulong w = Volatile.Read(ref slots[i]);
            if (!IndexWord.IsLive(w))
            {
                continue;
            }

            var entry = new EntryReader(IndexWord.Address(w));
            if (entry.HasExpiry)
            {
                now = now != 0 ? now : Clock.Now();
                long window = entry.Window;
                long deadline = window == 0 ? entry.Deadline : ExpiryClock.EffectiveDeadline(entry.Deadline, window, Volatile.Read(ref t->Access[i]));
                if (now >= deadline)
                {
                    continue;
                }
            }

            buffer.Append(entry.Key, entry.Value);
            copied++;
        }

        return copied;
    }
}
