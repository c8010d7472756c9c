using System;
using System.Collections.Generic;

namespace CMap.Bench.Stores;

/// <summary>
/// Content equality for <c>byte[]</c> keys (vectorized <see cref="MemoryExtensions.SequenceEqual{T}(ReadOnlySpan{T}, ReadOnlySpan{T})"/>
/// and <see cref="HashCode.AddBytes"/>), so <see cref="System.Collections.Concurrent.ConcurrentDictionary{TKey, TValue}"/>
/// can serve as the managed baseline. It also compares spans against stored arrays, so the dictionary can be probed
/// with a span through its alternate lookup without allocating a key. There is deliberately no reference-equality
/// shortcut: a lookup with the very array the dictionary holds costs the same as one with a copy.
/// </summary>
public sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static ByteArrayComparer Instance { get; } = new();

    public bool Equals(byte[]? x, byte[]? y) => x is not null && y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return Hash(obj);
    }

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = default(HashCode);
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }
}
