using System;
using System.Runtime.CompilerServices;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// A shard's chunks, in no particular order: one native array of chunk addresses from the map's arena, so a shard's
/// log costs the garbage collector nothing however many chunks it has. Guarded by the shard lock; no reader ever
/// reads it, so a grown array frees the old one at once. Each chunk's header keeps its position
/// (<see cref="ChunkHeader.ListIndex"/>), so removal is a swap with the last. Its bytes count with the index's
/// (<see cref="Bytes"/>), so a budget sees them.
/// </summary>
internal unsafe struct ChunkList
{
    private Chunk* _items;
    private int _count;
    private int _capacity;

    internal readonly int Count => _count;

    /// <summary>Native bytes the array holds.</summary>
    internal readonly long Bytes => (long)_capacity * sizeof(Chunk);

    internal readonly Chunk this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => AsSpan()[index];
    }

    internal readonly Span<Chunk> AsSpan() => new(_items, _count);

    /// <summary>For <c>foreach</c>; the list must not change while it runs.</summary>
    public readonly Span<Chunk>.Enumerator GetEnumerator() => AsSpan().GetEnumerator();

    /// <summary>
    /// Makes room for one more chunk, so that <see cref="Add"/> cannot fail once a chunk was rented for it. Returns the
    /// change in <see cref="Bytes"/>. Throws <see cref="OutOfMemoryException"/> with nothing changed.
    /// </summary>
    internal long EnsureRoomForOne(NativeArena arena)
    {
        if (_count < _capacity)
        {
            return 0;
        }

        int grown = Math.Max(8, _capacity * 2);
        var fresh = (Chunk*)arena.Alloc((nuint)grown * (nuint)sizeof(Chunk));
        long before = Bytes;
        if (_items != null)
        {
            AsSpan().CopyTo(new Span<Chunk>(fresh, grown));
            arena.Free(_items, (nuint)before);
        }

        _items = fresh;
        _capacity = grown;
        return Bytes - before;
    }

    /// <summary>Appends <paramref name="chunk"/> and returns its position; call <see cref="EnsureRoomForOne"/> first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int Add(Chunk chunk)
    {
        if (_count >= _capacity)
        {
            ThrowHelper.ThrowInvalidOperation("ChunkList.Add without room: EnsureRoomForOne comes first.");
        }

        _items[_count] = chunk;
        return _count++;
    }

    /// <summary>
    /// Removes the chunk at <paramref name="index"/> by moving the last one into its place, and returns the one that
    /// moved (default when it was the last).
    /// </summary>
    internal Chunk RemoveAt(int index)
    {
        if ((uint)index >= (uint)_count)
        {
            ThrowHelper.ThrowInvalidOperation($"ChunkList.RemoveAt({index}) with {_count} chunks.");
        }

        int last = --_count;
        Chunk moved = default;
        if (index != last)
        {
            moved = _items[last];
            _items[index] = moved;
        }

        _items[last] = default;
        return moved;
    }

    /// <summary>Frees the array and forgets every chunk (the shard emptied, or is cleared or disposed); returns the bytes freed.</summary>
    internal long Free(NativeArena arena)
    {
        long bytes = Bytes;
        if (_items != null)
        {
            arena.Free(_items, (nuint)bytes);
        }

        this = default;
        return bytes;
    }
}
