using System;
using System.Runtime.CompilerServices;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// A shard's chunks, in no particular order: one array of chunk addresses, which the garbage collector marks without
/// looking inside (a <see cref="Chunk"/> holds no reference), so a shard's log costs it one object however many
/// chunks it has. Guarded by the shard lock. Each chunk's header keeps its position (<see cref="ChunkHeader.ListIndex"/>),
/// so removal is a swap with the last.
/// </summary>
internal struct ChunkList
{
    private Chunk[] _items;
    private int _count;

    internal readonly int Count => _count;

    internal readonly Chunk this[int index] => AsSpan()[index];

    internal readonly Span<Chunk> AsSpan() => _items is null ? default : _items.AsSpan(0, _count);

    /// <summary>For <c>foreach</c>; the list must not change while it runs.</summary>
    public readonly Span<Chunk>.Enumerator GetEnumerator() => AsSpan().GetEnumerator();

    /// <summary>
    /// Makes room for one more chunk, so that <see cref="Add"/> cannot fail once a chunk was rented for it. Throws
    /// <see cref="OutOfMemoryException"/> with nothing changed.
    /// </summary>
    internal void EnsureRoomForOne()
    {
        if (_items is null || _count == _items.Length)
        {
            Array.Resize(ref _items, Math.Max(8, _count * 2));
        }
    }

    /// <summary>Appends <paramref name="chunk"/> and returns its position; call <see cref="EnsureRoomForOne"/> first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal int Add(Chunk chunk)
    {
        _items[_count] = chunk;
        return _count++;
    }

    /// <summary>
    /// Removes the chunk at <paramref name="index"/> by moving the last one into its place, and returns the one that
    /// moved (default when it was the last).
    /// </summary>
    internal Chunk RemoveAt(int index)
    {
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

    internal void Clear()
    {
        AsSpan().Clear();
        _count = 0;
    }
}
