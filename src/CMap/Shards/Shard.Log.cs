using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>The log: appending entries, sealing chunks, and accounting for entries that died [I4].</summary>
internal unsafe partial struct Shard
{
    /// <summary>
    /// Reserves <paramref name="size"/> bytes in the log of <paramref name="region"/> (always the probation region
    /// without a budget); throws out-of-memory with nothing changed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* AppendUnsynchronized(long size, byte region, out int sizeClass)
    {
        Chunk tail = region == Chunk.ProbationRegion ? _tail : _mainTail;
        if (!tail.IsNull && size <= EntryLimitOf(tail.Capacity))
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

        return AppendSlowUnsynchronized(size, region, out sizeClass);
    }

    /// <summary>
    /// The native bytes an append of <paramref name="size"/> to the probation tail would allocate: none when the tail
    /// has room, else a chunk of the current class, or the entry's own block. (A budget's writers make room for it.)
    /// </summary>
    private long AllocationForUnsynchronized(long size)
    {
        Chunk tail = _tail;
        if (!tail.IsNull && size <= EntryLimitOf(tail.Capacity) && tail.Header->Used + size <= tail.Capacity - Chunk.TailPadding)
        {
            return size;
        }

        int chunk = Pool.ClassSizes[Math.Min(_sizeClass, _settings.MaxSizeClass)];
        return size > EntryLimitOf(chunk) ? Chunk.HeaderSize + size + Chunk.TailPadding : chunk;
    }

    /// <summary>
    /// [I8] Entries above half a chunk's payload get a block of their own; with a budget, above an eighth of it, but
    /// never below <see cref="MinOwnBlockEntryBytes"/> (or half the payload, if that is less): a block's header and the
    /// allocator's overhead would weigh too much on smaller entries.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long EntryLimitOf(int chunkCapacity)
    {
        long payload = Chunk.PayloadCapacity(chunkCapacity);
        return Math.Max(payload >> _largeEntryShift, Math.Min(payload >> 1, MinOwnBlockEntryBytes));
    }

    /// <summary>With a budget, the smallest entry that gets a block of its own in chunks big enough [I8].</summary>
    private const long MinOwnBlockEntryBytes = 4096;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* AppendSlowUnsynchronized(long size, byte region, out int sizeClass)
    {
        int cls = ChooseSizeClassUnsynchronized();
        if (size > EntryLimitOf(Pool.ClassSizes[cls]))
        {
            // [I8] A large entry gets a block of its own; it dies (and is retired) as a whole. Its age for eviction is
            // the seal count now, comparable with the chunks'.
            ChunkHeader* block = Pool.Blocks.Rent(size);
            block->LiveBytes = size;
            block->Region = region;
            block->SealedAt = _seals;
            BlocksOf(region).PushHead(block);
            Volatile.Write(ref _oversizeBytes, _oversizeBytes + block->Capacity);
            AddRegionBytesUnsynchronized(region, block->Capacity);
            sizeClass = Chunk.OversizeClass;
            MaybeRequestEvictionUnsynchronized();
            return (byte*)block + Chunk.HeaderSize;
        }

        long listGrowth = _chunks.EnsureRoomForOne(Arena); // before the rent: nothing can fail once the chunk is ours
        if (listGrowth != 0)
        {
            Volatile.Write(ref _indexBytes, _indexBytes + listGrowth);
        }

        Chunk fresh = Pool.Rent(cls);
        SealTailUnsynchronized(region);
        fresh.Header->Region = region;
        fresh.Header->ListIndex = _chunks.Add(fresh);
        if (region == Chunk.ProbationRegion)
        {
            _tail = fresh;
        }
        else
        {
            _mainTail = fresh;
        }

        Volatile.Write(ref _chunkBytes, _chunkBytes + fresh.Capacity);
        AddRegionBytesUnsynchronized(region, fresh.Capacity);

        ChunkHeader* h = fresh.Header;
        byte* e = fresh.Base + h->Used;
        h->Used += (int)size;
        h->LiveBytes += size;
        sizeClass = cls;
        MaybeRequestEvictionUnsynchronized();
        return e;
    }

    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    private ref BlockList BlocksOf(byte region) => ref region == Chunk.ProbationRegion ? ref _probationBlocks : ref _mainBlocks;

    private void AddRegionBytesUnsynchronized(byte region, long bytes)
    {
        if (region == Chunk.MainRegion)
        {
            _mainBytes += bytes;
        }
    }

    /// <summary>The region of the entry <paramref name="word"/> points at (its chunk or block header says).</summary>
    private byte RegionOf(ulong word) => Chunk.HeaderOf(IndexWord.Address(word), IndexWord.SizeClass(word), Pool.ClassSizes)->Region;

    /// <summary>
    /// Stops appending to the tail of <paramref name="region"/>. Its unused end is counted as slack, apart from dead
    /// entries: moving a chunk only frees memory when it holds dead entries (or was sealed far from full), so slack
    /// alone never makes a chunk worth compacting. The chunk is retired at once if nothing in it lives (unless a
    /// sweep has it pinned).
    /// </summary>
    private void SealTailUnsynchronized(byte region)
    {
        Chunk old = region == Chunk.ProbationRegion ? _tail : _mainTail;
        if (old.IsNull)
        {
            return;
        }

        if (region == Chunk.ProbationRegion)
        {
            _tail = default;
        }
        else
        {
            _mainTail = default;
        }

        ChunkHeader* oh = old.Header;
        oh->SealedAt = ++_seals;
        Volatile.Write(ref _slackBytes, _slackBytes + SlackOf(old));

        // [C4] A pinned tail is being swept: the sweep retires it if it emptied.
        if (oh->LiveBytes == 0 && (oh->Flags & Chunk.PinnedFlag) == 0)
        {
            RetireChunkUnsynchronized(old);
        }
    }

    /// <summary>The unused end of a sealed chunk.</summary>
    private static long SlackOf(Chunk chunk) => chunk.Capacity - Chunk.TailPadding - chunk.Header->Used;

    /// <summary>The size class for the next chunk, from the shard's chunk policy.</summary>
    private int ChooseSizeClassUnsynchronized()
    {
        int cls = _settings.ChunkPolicy.SelectSizeClass(_liveBytes, _sizeClass, _settings.ChunkSizes);
        if ((uint)cls >= (uint)Pool.ClassCount)
        {
            ThrowHelper.ThrowInvalidOperation($"ChunkPolicy.SelectSizeClass returned {cls}; it must be an index into CMapConfig.ChunkSizes (0..{Pool.ClassCount - 1}).");
        }

        // A budget caps the class, so that the shards' tails stay a small part of it.
        cls = Math.Min(cls, _settings.MaxSizeClass);

        _sizeClass = cls;
        return cls;
    }

    /// <summary>Accounts for an entry no index word points at any more, and retires its memory when it can [I4].</summary>
    private void KillUnsynchronized(ulong word)
    {
        byte* e = IndexWord.Address(word);
        long size = new EntryReader(e).TotalSize;
        Volatile.Write(ref _liveBytes, _liveBytes - size);
        ReleaseEntryBytesUnsynchronized(e, IndexWord.SizeClass(word), size);
    }

    /// <summary>
    /// Turns <paramref name="size"/> live bytes of the block holding <paramref name="entry"/> into dead ones, and
    /// retires the block once nothing in it lives (the shard-wide live count is the caller's).
    /// </summary>
    private void ReleaseEntryBytesUnsynchronized(byte* entry, int cls, long size)
    {
        ChunkHeader* h = Chunk.HeaderOf(entry, cls, Pool.ClassSizes);
        if (cls == Chunk.OversizeClass)
        {
            BlocksOf(h->Region).Unlink(h);
            Volatile.Write(ref _oversizeBytes, _oversizeBytes - h->Capacity);
            AddRegionBytesUnsynchronized(h->Region, -h->Capacity);
            Retired.Retire(h, h->Capacity, reusable: true);
            return;
        }

        h->LiveBytes -= size;
        h->DeadBytes += size;
        Volatile.Write(ref _deadBytes, _deadBytes + size);
        // A pinned chunk is being compacted: the compactor retires it when it is done with it.
        if (h->LiveBytes == 0 && !IsTailUnsynchronized(h) && (h->Flags & Chunk.PinnedFlag) == 0)
        {
            RetireChunkUnsynchronized(new Chunk(h));
        }
    }

    /// <summary>
    /// [C3] Where <paramref name="chunk"/> is in the shard's list now, or -1 once it is not there (retired). Only the
    /// list is read, never the chunk, whose memory may have been freed or rented again since it was chosen; a chunk
    /// rented again into this shard is found like any other of its chunks. <paramref name="hint"/> is where it was.
    /// </summary>
    private int IndexOfChunkUnsynchronized(Chunk chunk, int hint)
    {
        Span<Chunk> chunks = _chunks.AsSpan();
        if ((uint)hint < (uint)chunks.Length && chunks[hint] == chunk)
        {
            return hint;
        }

        // Moved by a retirement (which moves the list's last chunk, most often a tail, into the hole), or gone.
        return chunks.IndexOf(chunk);
    }

    /// <summary>Removes a chunk with no live entries from the shard and retires it [I4].</summary>
    private void RetireChunkUnsynchronized(Chunk chunk)
    {
        ChunkHeader* h = chunk.Header;
        Debug.Assert(h->LiveBytes == 0);
        int index = h->ListIndex;
        Debug.Assert(_chunks[index] == chunk);
        Chunk moved = _chunks.RemoveAt(index);
        if (!moved.IsNull)
        {
            moved.Header->ListIndex = index;
        }

        h->ListIndex = -1;
        AddRegionBytesUnsynchronized(h->Region, -chunk.Capacity);
        if (_tail == chunk)
        {
            _tail = default;
        }
        else if (_mainTail == chunk)
        {
            _mainTail = default;
        }
        else
        {
            Volatile.Write(ref _slackBytes, _slackBytes - SlackOf(chunk));
        }

        Volatile.Write(ref _deadBytes, _deadBytes - h->DeadBytes);
        Volatile.Write(ref _chunkBytes, _chunkBytes - chunk.Capacity);
        Retired.Retire(chunk);
    }
}
