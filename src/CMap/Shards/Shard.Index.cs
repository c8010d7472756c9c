using System;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>Index rebuilds: a table is never resized in place; a new one is built and published [I2].</summary>
internal sealed unsafe partial class Shard
{
    /// <summary>Rebuilds into a table of <paramref name="capacity"/> slots; throws out-of-memory with nothing changed.</summary>
    private void RebuildUnsynchronized(long capacity)
    {
        var old = (IndexTable*)_table;
        IndexTable* fresh = IndexTable.Allocate(_arena, capacity);
        ulong* src = IndexTable.Slots(old);
        ulong* dst = IndexTable.Slots(fresh);
        long n = old->Capacity;
        for (long i = 0; i < n; i++)
        {
            ulong w = src[i];
            if (!IndexWord.IsLive(w))
            {
                continue;
            }

            // The index keeps only a 13-bit tag, so the slot comes from hashing the key again.
            ulong h = _settings.Hasher.Hash(new EntryReader(IndexWord.Address(w)).Key);
            Probe.Find(fresh, h, default(NoMatch), out _, out long at);
            dst[at] = w; // the fresh table is not yet published: plain stores
        }

        fresh->Live = old->Live;
        // [I2] Release store: the new table's slots are visible before its pointer.
        Volatile.Write(ref _table, (nint)fresh);
        Volatile.Write(ref _indexBytes, IndexTable.BytesFor(capacity));
        Volatile.Write(ref _rebuilds, _rebuilds + 1);
        _retired.Retire(old, IndexTable.BytesFor(old->Capacity));
    }

    /// <summary>The capacity a rebuilt table should have for <paramref name="live"/> entries, never below the initial one.</summary>
    private long FittedCapacityUnsynchronized(long live) => Math.Max(_minCapacity, IndexTable.CapacityFor(live));

    /// <summary>A rebuild that is only an optimisation (shrinking): out of memory leaves the table as it is.</summary>
    private void TryRebuildUnsynchronized(long capacity)
    {
        try
        {
            RebuildUnsynchronized(capacity);
        }
        catch (OutOfMemoryException)
        {
            // The current table stays correct; it is merely larger than it needs to be.
        }
    }
}
