using System;
using System.Runtime.Intrinsics.X86;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>Index rebuilds: a table is never resized in place; a new one is built and published [I2].</summary>
internal unsafe partial struct Shard
{
    /// <summary>Rebuilds into a table of <paramref name="capacity"/> slots; throws out-of-memory with nothing changed.</summary>
    private void RebuildUnsynchronized(long capacity)
    {
        var old = (IndexTable*)_table;
        IndexTable* fresh = IndexTable.Allocate(Arena, capacity);
        if (old->Access != null)
        {
            try
            {
                AttachAccessArrayUnsynchronized(fresh);
            }
            catch
            {
                Arena.Free(fresh, (nuint)IndexTable.BytesFor(capacity));
                throw;
            }
        }

        ulong* src = IndexTable.Slots(old);
        ulong* dst = IndexTable.Slots(fresh);
        long n = old->Capacity;

        // [C8's pattern] The old table is in hash order, so its entries are scattered over the log: each is a likely
        // cache miss, and the fresh table's home slot another. In batches, the entries of the next live words are all
        // prefetched first, then hashed (their misses overlapping), their home slots prefetched, and only then placed.
        long* from = stackalloc long[RebuildBatch];
        ulong* hashes = stackalloc ulong[RebuildBatch];
        for (long i = 0; i < n;)
        {
            int batch = 0;
            for (; i < n && batch < RebuildBatch; i++)
            {
                ulong w = src[i];
                if (IndexWord.IsLive(w))
                {
                    from[batch++] = i;
                    IndexTable.PrefetchEntry(IndexWord.Address(w));
                }
            }

            for (int b = 0; b < batch; b++)
            {
                // The index keeps only an 11-bit tag, so the slot comes from hashing the key again.
                hashes[b] = _settings.Hasher.Hash(new EntryReader(IndexWord.Address(src[from[b]])).Key);
                if (Sse.IsSupported)
                {
                    Sse.Prefetch0(dst + IndexTable.HomeSlot(hashes[b], fresh->Size));
                }
            }

            for (int b = 0; b < batch; b++)
            {
                Probe.Find(fresh, hashes[b], default(NoMatch), out _, out long at);
                dst[at] = src[from[b]]; // the fresh table is not yet published: plain stores
                if (fresh->Access != null)
                {
                    // [I10] A reader may still record an access in the old table's array: the second copy below (or
                    // the reader itself) carries it over.
                    fresh->Access[at] = Volatile.Read(ref old->Access[from[b]]);
                }
            }
        }

        fresh->Live = old->Live;
        // [I2] Release store: the new table's slots (and side array) are visible before its pointer.
        Volatile.Write(ref _table, (nint)fresh);
        if (fresh->Access != null)
        {
            // [I10] A reader's access CAS into the old array may have landed after the copy above. Full fence, then
            // copy again: a reader whose CAS this second copy misses sees the new table (its CAS is a full fence too)
            // and records the access there itself.
            Interlocked.MemoryBarrier();
            CopyAccessTimesAgainUnsynchronized(old, fresh);
        }

        Volatile.Write(ref _rebuilds, _rebuilds + 1);
        RetireTableUnsynchronized(old);
        Volatile.Write(ref _indexBytes, TableBytes(fresh) + _chunks.Bytes);
    }

    /// <summary>Live words a rebuild takes per batch: enough misses in flight to cover DRAM latency, little stack.</summary>
    private const int RebuildBatch = 16;

    /// <summary>Second pass of a rebuild's side-array copy: the later of the two times for each sliding entry.</summary>
    private void CopyAccessTimesAgainUnsynchronized(IndexTable* old, IndexTable* fresh)
    {
        ulong* src = IndexTable.Slots(old);
        long n = old->Capacity;
        for (long i = 0; i < n; i++)
        {
            ulong w = src[i];
            if (!IndexWord.IsLive(w))
            {
                continue;
            }

            var entry = new EntryReader(IndexWord.Address(w));
            if (!entry.HasExpiry || entry.Window == 0)
            {
                continue;
            }

            ulong h = _settings.Hasher.Hash(entry.Key);
            long at = Probe.Find(fresh, h, new AddressMatch(IndexWord.Address(w)), out _);
            long late = Volatile.Read(ref old->Access[i]);
            if (at >= 0)
            {
                ref long access = ref fresh->Access[at];
                long current = Volatile.Read(ref access);
                if (current != ExpiryClock.Expired && (late > current || late == ExpiryClock.Expired))
                {
                    // A seal always carries over, and is never undone: a read in the new table that sealed the entry
                    // reported it gone, so a later time from the old table must not bring it back.
                    Interlocked.CompareExchange(ref access, late, current);
                }
            }
        }
    }

    /// <summary>Bytes of a table and its side array.</summary>
    private static long TableBytes(IndexTable* t) =>
        IndexTable.BytesFor(t->Capacity) + (t->Access != null ? IndexTable.AccessBytesFor(t->Capacity) : 0);

    /// <summary>Retires an unpublished table and its side array [I2].</summary>
    private void RetireTableUnsynchronized(IndexTable* t)
    {
        if (t->Access != null)
        {
            Retired.Retire((byte*)t->Access - IndexTable.HeaderSize, IndexTable.AccessBytesFor(t->Capacity));
        }

        Retired.Retire(t, IndexTable.BytesFor(t->Capacity));
    }

    /// <summary>
    /// [I10] Gives <paramref name="t"/> its side array of last-access times (zeroed: no access recorded, which a
    /// sliding entry never relies on, since its write records one). Throws out-of-memory with nothing changed.
    /// </summary>
    private void AttachAccessArrayUnsynchronized(IndexTable* t)
    {
        long bytes = IndexTable.AccessBytesFor(t->Capacity);
        t->Access = (long*)((byte*)Arena.AllocZeroed((nuint)bytes) + IndexTable.HeaderSize);
        if ((nint)t == _table)
        {
            Volatile.Write(ref _indexBytes, _indexBytes + bytes);
        }
    }

    /// <summary>The capacity a rebuilt table should have for <paramref name="live"/> entries, never below the initial one.</summary>
    private long FittedCapacityUnsynchronized(long live) => Math.Max(_minCapacity, IndexTable.SparseCapacityFor(live));

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
