using System;
using System.Threading;

namespace CMap.Buffer;

/// <summary>
/// Free oversize blocks (one large entry each) kept for reuse, up to a byte limit. A block freshly allocated for a
/// large value page-faults on every page its first write touches; a reused block is already resident, so overwriting
/// a large value costs one copy. Blocks arrive here only from the retire list, after their grace period (no reader can
/// still hold an address inside them), and stay counted by the arena: they are native bytes the map holds, so a byte
/// budget counts them, and <see cref="Trim"/> (called by compaction, Clear, budget pressure) gives them back.
/// <para>
/// The pool is a leaf lock around two parallel arrays (address, capacity), so that finding a block scans a managed
/// <c>long[]</c> rather than the blocks' headers (each a cache miss). A rent takes the smallest block that fits with at
/// most an eighth to spare, so reuse never inflates what an entry costs by more than that.
/// </para>
/// </summary>
internal sealed unsafe class BlockPool : IDisposable
{
    private readonly NativeArena _arena;
    private readonly long _maxRetainedBytes;
    private readonly Lock _lock = new();
    private nint[] _blocks;
    private long[] _capacities;
    private int _count;
    private long _retainedBytes;
    private long _reused;

    /// <param name="arena">Where blocks come from and go back to.</param>
    /// <param name="maxRetainedBytes">Bytes of free blocks kept; 0 keeps none (every block goes back to the OS at once).</param>
    internal BlockPool(NativeArena arena, long maxRetainedBytes)
    {
        _arena = arena;
        _maxRetainedBytes = Math.Max(0, maxRetainedBytes);
        _blocks = new nint[InitialSlots];
        _capacities = new long[InitialSlots];
    }

    private const int InitialSlots = 16;

    /// <summary>Bytes of free blocks held for reuse (racy read: a statistic and a hint).</summary>
    internal long RetainedBytes => Volatile.Read(ref _retainedBytes);

    /// <summary>Rents that reused a pooled block instead of allocating one.</summary>
    internal long Reused => Volatile.Read(ref _reused);

    /// <summary>
    /// An oversize block able to hold one entry of <paramref name="entrySize"/> bytes, its header reset: a pooled one
    /// if one fits, else a new allocation. Its <see cref="ChunkHeader.Capacity"/> is the block's real size. Throws
    /// <see cref="OutOfMemoryException"/> with nothing changed.
    /// </summary>
    internal ChunkHeader* Rent(long entrySize)
    {
        long need = Chunk.HeaderSize + entrySize + Chunk.TailPadding;
        nint block = 0;
        long capacity = need;
        if (Volatile.Read(ref _count) > 0)
        {
            lock (_lock)
            {
                int best = -1;
                long slack = need >> 3;
                for (int i = 0; i < _count; i++)
                {
                    long c = _capacities[i];
                    if (c >= need && c - need <= slack && (best < 0 || c < _capacities[best]))
                    {
                        best = i;
                    }
                }

                if (best >= 0)
                {
                    block = _blocks[best];
                    capacity = _capacities[best];
                    RemoveAtUnsynchronized(best);
                    _reused++;
                }
            }
        }

        var h = block != 0 ? (ChunkHeader*)block : (ChunkHeader*)_arena.Alloc((nuint)need);
        Chunk.InitHeader(h, (int)(Chunk.HeaderSize + entrySize), (int)capacity, Chunk.OversizeClass);
        return h;
    }

    /// <summary>
    /// Takes back a block of <paramref name="bytes"/> no reader can reach any more: kept while the pool has room,
    /// otherwise freed. Never throws and never allocates native memory (a full slot array grows, or the block is freed).
    /// </summary>
    internal void Return(void* block, long bytes)
    {
        lock (_lock)
        {
            if (_retainedBytes + bytes <= _maxRetainedBytes && TryMakeSlotUnsynchronized())
            {
                _blocks[_count] = (nint)block;
                _capacities[_count] = bytes;
                Volatile.Write(ref _count, _count + 1);
                Volatile.Write(ref _retainedBytes, _retainedBytes + bytes);
                return;
            }
        }

        _arena.Free(block, (nuint)bytes);
    }

    /// <summary>Gives every pooled block back to the OS.</summary>
    internal void Trim()
    {
        lock (_lock)
        {
            for (int i = 0; i < _count; i++)
            {
                _arena.Free((void*)_blocks[i], (nuint)_capacities[i]);
                _blocks[i] = 0;
            }

            Volatile.Write(ref _count, 0);
            Volatile.Write(ref _retainedBytes, 0);
        }
    }

    public void Dispose() => Trim();

    private bool TryMakeSlotUnsynchronized()
    {
        if (_count < _blocks.Length)
        {
            return true;
        }

        try
        {
            // Bounded: every slot holds a block of at least an eighth of the smallest chunk's payload (I8), and the
            // bytes are capped. Both
            // arrays are allocated before either is replaced, so a failure leaves them matching.
            var blocks = new nint[_blocks.Length * 2];
            var capacities = new long[blocks.Length];
            Array.Copy(_blocks, blocks, _count);
            Array.Copy(_capacities, capacities, _count);
            _blocks = blocks;
            _capacities = capacities;
            return true;
        }
        catch (OutOfMemoryException)
        {
            return false;
        }
    }

    private void RemoveAtUnsynchronized(int index)
    {
        int last = _count - 1;
        Volatile.Write(ref _retainedBytes, _retainedBytes - _capacities[index]);
        _blocks[index] = _blocks[last];
        _capacities[index] = _capacities[last];
        _blocks[last] = 0;
        Volatile.Write(ref _count, last);
    }
}
