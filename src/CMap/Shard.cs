using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// One shard: an index table and a log of chunks. Readers call <see cref="FindEntry"/> inside an epoch region and
/// take no lock. Every other member runs under <see cref="_lock"/> (the <c>*Unsynchronized</c> ones expect the
/// caller to hold it). Invariants I1–I8 are in docs/concurrency.md.
/// </summary>
internal sealed unsafe partial class Shard
{
    private readonly Lock _lock = new();
    private readonly ByteMap _map;
    private readonly NativeArena _arena;
    private readonly ChunkPool _pool;
    private readonly RetireList _retired;

    // [I2] Current index table. Written only under _lock, with Volatile.Write after the table is fully built;
    // read by lock-free readers with Volatile.Read. A retired table stays readable until its grace period ends.
    private nint _table;

    // Writer state, all under _lock.
    private readonly List<Chunk> _chunks = [];
    private Chunk? _tail;
    private int _seals; // tails sealed so far: a chunk's age is _seals - its SealedAt
    private long _tailEntryLimit; // [I8] entries above this (half the tail's payload) get a block of their own
    private int _sizeClass;
    private ChunkHeader* _oversizeHead;
    private bool _disposed;

    // The capacity CMapConfig.InitialCapacity asked for: shrinking never goes below it. Set once.
    private readonly long _minCapacity;

    // Accounting. Written under _lock; read racily (Volatile.Read) by statistics. Exact whenever _lock is free.
    private long _count;
    private long _liveBytes;
    private long _deadBytes;
    private long _chunkBytes;
    private long _oversizeBytes;
    private long _indexBytes;
    private long _rebuilds;

    internal Shard(ByteMap map, NativeArena arena, ChunkPool pool, RetireList retired, long initialEntries)
    {
        _map = map;
        _arena = arena;
        _pool = pool;
        _retired = retired;
        long cap = IndexTable.CapacityFor(initialEntries);
        _minCapacity = cap;
        _requestFloor = map.CompactionMinDeadBytes;
        _table = (nint)IndexTable.Allocate(arena, cap);
        _indexBytes = IndexTable.BytesFor(cap);
    }

    internal long Count => Volatile.Read(ref _count);

    internal long LiveBytes => Volatile.Read(ref _liveBytes);

    internal long DeadBytes => Volatile.Read(ref _deadBytes);

    internal long ChunkBytes => Volatile.Read(ref _chunkBytes);

    internal long OversizeBytes => Volatile.Read(ref _oversizeBytes);

    internal long IndexBytes => Volatile.Read(ref _indexBytes);

    internal long Rebuilds => Volatile.Read(ref _rebuilds);

    /// <summary>
    /// Finds the live entry for <paramref name="key"/>. Lock-free; the caller must be inside an epoch region,
    /// and the pointer returned is valid only until that region ends.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte* FindEntry(ReadOnlySpan<byte> key, ulong hash)
    {
        // [I2] Acquire: the table's slots were filled before its pointer was published.
        var t = (IndexTable*)Volatile.Read(ref _table);
        ulong mask = t->Mask;
        ulong* slots = IndexTable.Slots(t);
        ulong i = hash & mask;
        while (true)
        {
            // [I1] Acquire: the entry's bytes were written before the word that points at them.
            ulong w = Volatile.Read(ref slots[i]);
            if (w == IndexWord.Empty)
            {
                return null;
            }

            if (IndexWord.TagMatches(w, hash) && w != IndexWord.Tombstone)
            {
                byte* e = IndexWord.Address(w);
                if (new EntryReader(e).KeyEquals(key))
                {
                    return e;
                }
            }

            i = (i + 1) & mask;
        }
    }

    /// <summary>Adds or replaces. Returns true when the key was new.</summary>
    internal bool Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong hash)
    {
        using Lock.Scope scope = _lock.EnterScope();
        ThrowIfDisposedUnsynchronized();
        return InsertUnsynchronized(key, value, hash, onlyIfAbsent: false, out _);
    }

    /// <summary>Adds the key if absent. Otherwise copies out the current value; nothing is written.</summary>
    internal bool GetOrInsert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong hash, out byte[]? existing)
    {
        using Lock.Scope scope = _lock.EnterScope();
        ThrowIfDisposedUnsynchronized();
        bool inserted = InsertUnsynchronized(key, value, hash, onlyIfAbsent: true, out ulong found);
        // Under the lock no writer can kill the entry, so it is safe to read without an epoch region [I6].
        existing = inserted ? null : new EntryReader(IndexWord.Address(found)).Value.ToArray();
        return inserted;
    }

    /// <summary>Adds the key if absent; writes nothing otherwise. Returns true when it added.</summary>
    internal bool TryAdd(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong hash)
    {
        using Lock.Scope scope = _lock.EnterScope();
        ThrowIfDisposedUnsynchronized();
        return InsertUnsynchronized(key, value, hash, onlyIfAbsent: true, out _);
    }

    /// <summary>Removes the key. Returns false when it was absent.</summary>
    internal bool Delete(ReadOnlySpan<byte> key, ulong hash)
    {
        using Lock.Scope scope = _lock.EnterScope();
        ThrowIfDisposedUnsynchronized();
        var t = (IndexTable*)_table;
        long slot = FindSlotUnsynchronized(t, key, hash, out _);
        if (slot < 0)
        {
            return false;
        }

        ulong* slots = IndexTable.Slots(t);
        ulong old = slots[slot];
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
        KillUnsynchronized(old);
        MaybeRequestCompactionUnsynchronized();

        // Shrink a table left sparse by mass deletes (the rebuild also drops the tombstones).
        if (t->Capacity > _minCapacity && t->Live * 8 < t->Capacity)
        {
            TryRebuildUnsynchronized(FittedCapacityUnsynchronized(t->Live));
        }

        return true;
    }

    /// <summary>
    /// Probes for <paramref name="key"/>. Returns its slot, or -1 with <paramref name="insertAt"/> set to the first
    /// tombstone or empty slot of the chain, where the key would go.
    /// </summary>
    private static long FindSlotUnsynchronized(IndexTable* t, ReadOnlySpan<byte> key, ulong hash, out long insertAt)
    {
        ulong mask = t->Mask;
        ulong* slots = IndexTable.Slots(t);
        ulong i = hash & mask;
        insertAt = -1;
        while (true)
        {
            ulong w = slots[i];
            if (w == IndexWord.Empty)
            {
                if (insertAt < 0)
                {
                    insertAt = (long)i;
                }

                return -1;
            }

            if (w == IndexWord.Tombstone)
            {
                if (insertAt < 0)
                {
                    insertAt = (long)i;
                }
            }
            else if (IndexWord.TagMatches(w, hash) && new EntryReader(IndexWord.Address(w)).KeyEquals(key))
            {
                return (long)i;
            }

            i = (i + 1) & mask;
        }
    }

    private bool InsertUnsynchronized(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong hash, bool onlyIfAbsent, out ulong existingWord)
    {
        var t = (IndexTable*)_table;
        long slot = FindSlotUnsynchronized(t, key, hash, out long insertAt);
        existingWord = slot >= 0 ? IndexTable.Slots(t)[slot] : IndexWord.Empty;
        if (slot >= 0 && onlyIfAbsent)
        {
            return false;
        }

        if (slot < 0 && IndexTable.Slots(t)[insertAt] == IndexWord.Empty && t->Live + t->Tombstones + 1 > t->MaxUsed)
        {
            // Grow when live slots dominate; otherwise rebuild at the same size to purge tombstones.
            // Allocation failure throws here, before anything has changed.
            long cap = t->Live + 1 > t->Capacity * 3 / 8 ? t->Capacity * 2 : t->Capacity;
            RebuildUnsynchronized(cap);
            t = (IndexTable*)_table;
            FindSlotUnsynchronized(t, key, hash, out insertAt);
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
            KillUnsynchronized(existingWord);
            MaybeRequestCompactionUnsynchronized();
            return false;
        }

        if (slots[insertAt] == IndexWord.Tombstone)
        {
            t->Tombstones--;
        }

        // [I1] Release store, as above.
        Volatile.Write(ref slots[insertAt], word);
        t->Live++;
        Volatile.Write(ref _count, _count + 1);
        return true;
    }

    /// <summary>Reserves <paramref name="size"/> bytes in the log; throws out-of-memory with nothing changed.</summary>
    private byte* AppendUnsynchronized(long size, out int sizeClass)
    {
        Chunk? tail = _tail;
        if (tail is not null && size <= _tailEntryLimit)
        {
            ChunkHeader* h = tail.Header;
            if (h->Used + size <= tail.Capacity - Chunk.TailPadding)
            {
                byte* e = tail.Base + h->Used;
                h->Used += (int)size;
                h->LiveBytes += size;
                sizeClass = tail.SizeClass;
                return e;
            }
        }

        return AppendSlowUnsynchronized(size, out sizeClass);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* AppendSlowUnsynchronized(long size, out int sizeClass)
    {
        int cls = ChooseSizeClassUnsynchronized();
        if (size > Chunk.PayloadCapacity(_pool.ClassSizes[cls]) / 2)
        {
            // [I8] A large entry gets a block of its own; it dies (and is retired) as a whole.
            ChunkHeader* block = Chunk.AllocOversize(_arena, size);
            block->LiveBytes = size;
            block->Next = _oversizeHead;
            if (_oversizeHead != null)
            {
                _oversizeHead->Prev = block;
            }

            _oversizeHead = block;
            Volatile.Write(ref _oversizeBytes, _oversizeBytes + block->Capacity);
            sizeClass = Chunk.OversizeClass;
            return (byte*)block + Chunk.HeaderSize;
        }

        Chunk fresh = _pool.Rent(cls);
        SealTailUnsynchronized();
        fresh.Header->ListIndex = fresh.ListIndex = _chunks.Count;
        _chunks.Add(fresh);
        _tail = fresh;
        _tailEntryLimit = Chunk.PayloadCapacity(fresh.Capacity) / 2;
        Volatile.Write(ref _chunkBytes, _chunkBytes + fresh.Capacity);

        ChunkHeader* h = fresh.Header;
        byte* e = fresh.Base + h->Used;
        h->Used += (int)size;
        h->LiveBytes += size;
        sizeClass = cls;
        return e;
    }

    /// <summary>
    /// Stops appending to the tail: its unused end becomes dead space, and it is retired at once if nothing in it
    /// lives.
    /// </summary>
    private void SealTailUnsynchronized()
    {
        Chunk? old = _tail;
        if (old is null)
        {
            return;
        }

        _tail = null;
        ChunkHeader* oh = old.Header;
        oh->SealedAt = ++_seals;
        long slack = old.Capacity - Chunk.TailPadding - oh->Used;
        oh->Used += (int)slack;
        oh->DeadBytes += slack;
        Volatile.Write(ref _deadBytes, _deadBytes + slack);
        if (oh->LiveBytes == 0)
        {
            RetireChunkUnsynchronized(old);
        }
    }

    /// <summary>The size class for the next chunk, from the map's <see cref="ChunkPolicy"/>.</summary>
    private int ChooseSizeClassUnsynchronized()
    {
        int cls = _map.ChunkPolicy.SelectSizeClass(_liveBytes, _sizeClass, _map.ChunkSizes);
        if ((uint)cls >= (uint)_pool.ClassCount)
        {
            ThrowHelper.ThrowInvalidOperation($"ChunkPolicy.SelectSizeClass returned {cls}; it must be an index into CMapConfig.ChunkSizes (0..{_pool.ClassCount - 1}).");
        }

        _sizeClass = cls;
        return cls;
    }

    /// <summary>Accounts for an entry no index word points at any more, and retires its memory when it can [I4].</summary>
    private void KillUnsynchronized(ulong word)
    {
        byte* e = IndexWord.Address(word);
        int cls = IndexWord.SizeClass(word);
        long size = new EntryReader(e).TotalSize;
        Volatile.Write(ref _liveBytes, _liveBytes - size);
        ChunkHeader* h = Chunk.HeaderOf(e, cls, _pool.ClassSizes);
        if (cls == Chunk.OversizeClass)
        {
            UnlinkOversizeUnsynchronized(h);
            Volatile.Write(ref _oversizeBytes, _oversizeBytes - h->Capacity);
            _retired.Retire(h, h->Capacity);
            return;
        }

        h->LiveBytes -= size;
        h->DeadBytes += size;
        Volatile.Write(ref _deadBytes, _deadBytes + size);
        // A pinned chunk is being compacted: the compactor retires it when it is done with it.
        if (h->LiveBytes == 0 && _tail?.Base != (byte*)h && (h->Flags & Chunk.PinnedFlag) == 0)
        {
            RetireChunkUnsynchronized(_chunks[h->ListIndex]);
        }
    }

    private void UnlinkOversizeUnsynchronized(ChunkHeader* h)
    {
        if (h->Prev != null)
        {
            h->Prev->Next = h->Next;
        }
        else
        {
            _oversizeHead = h->Next;
        }

        if (h->Next != null)
        {
            h->Next->Prev = h->Prev;
        }
    }

    /// <summary>Removes a chunk with no live entries from the shard and retires it [I4].</summary>
    private void RetireChunkUnsynchronized(Chunk chunk)
    {
        ChunkHeader* h = chunk.Header;
        Debug.Assert(h->LiveBytes == 0);
        int index = h->ListIndex;
        int last = _chunks.Count - 1;
        if (index != last)
        {
            Chunk moved = _chunks[last];
            _chunks[index] = moved;
            moved.Header->ListIndex = moved.ListIndex = index;
        }

        _chunks.RemoveAt(last);
        h->ListIndex = chunk.ListIndex = -1;
        if (_tail == chunk)
        {
            _tail = null;
        }

        Volatile.Write(ref _deadBytes, _deadBytes - h->DeadBytes);
        Volatile.Write(ref _chunkBytes, _chunkBytes - chunk.Capacity);
        _retired.Retire(chunk);
    }

    /// <summary>Rebuilds into a table of <paramref name="capacity"/> slots; throws out-of-memory with nothing changed.</summary>
    private void RebuildUnsynchronized(long capacity)
    {
        var old = (IndexTable*)_table;
        IndexTable* fresh = IndexTable.Allocate(_arena, capacity);
        ulong* src = IndexTable.Slots(old);
        ulong* dst = IndexTable.Slots(fresh);
        ulong mask = fresh->Mask;
        long n = old->Capacity;
        for (long i = 0; i < n; i++)
        {
            ulong w = src[i];
            if (!IndexWord.IsLive(w))
            {
                continue;
            }

            // The index keeps only a 13-bit tag, so the slot comes from hashing the key again.
            ulong h = _map.HashOf(new EntryReader(IndexWord.Address(w)).Key);
            ulong j = h & mask;
            while (dst[j] != IndexWord.Empty)
            {
                j = (j + 1) & mask;
            }

            dst[j] = w;
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

    /// <summary>Empties the shard and retires its memory. Safe while readers are active [I5].</summary>
    internal void Clear()
    {
        using Lock.Scope scope = _lock.EnterScope();
        ThrowIfDisposedUnsynchronized();
        IndexTable* fresh = IndexTable.Allocate(_arena, _minCapacity);
        var old = (IndexTable*)_table;
        // [I2] Publish the empty table before retiring anything the old one points at.
        Volatile.Write(ref _table, (nint)fresh);
        _retired.Retire(old, IndexTable.BytesFor(old->Capacity));
        ReleaseLogUnsynchronized();
        Volatile.Write(ref _indexBytes, IndexTable.BytesFor(_minCapacity));
    }

    /// <summary>Retires every byte the shard holds. Afterwards every writer call throws.</summary>
    internal void Dispose()
    {
        using Lock.Scope scope = _lock.EnterScope();
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var old = (IndexTable*)_table;
        _retired.Retire(old, IndexTable.BytesFor(old->Capacity));
        ReleaseLogUnsynchronized();
        Volatile.Write(ref _indexBytes, 0);
    }

    private void ReleaseLogUnsynchronized()
    {
        foreach (Chunk c in _chunks)
        {
            c.ListIndex = -1;
        }

        // A compactor between batches sees the change and drops the chunk it was moving (now retired).
        Volatile.Write(ref _generation, _generation + 1);
        foreach (Chunk c in _chunks)
        {
            _retired.Retire(c);
        }

        _chunks.Clear();
        _tail = null;
        _sizeClass = 0;
        for (ChunkHeader* h = _oversizeHead; h != null;)
        {
            ChunkHeader* next = h->Next;
            _retired.Retire(h, h->Capacity);
            h = next;
        }

        _oversizeHead = null;
        Volatile.Write(ref _count, 0);
        Volatile.Write(ref _liveBytes, 0);
        Volatile.Write(ref _deadBytes, 0);
        Volatile.Write(ref _chunkBytes, 0);
        Volatile.Write(ref _oversizeBytes, 0);
        _requestFloor = _map.CompactionMinDeadBytes;
    }

    private void ThrowIfDisposedUnsynchronized()
    {
        if (_disposed)
        {
            ThrowHelper.ThrowObjectDisposed();
        }
    }

    public override string ToString() =>
        $"Shard(count={Count}, live={LiveBytes}, dead={DeadBytes}, chunks={ChunkBytes}, oversize={OversizeBytes}, index={IndexBytes})";
}
