using System;
using System.Collections.Generic;

namespace CMap.Benchmarks.Infrastructure;

/// <summary>
/// Content equality for <c>byte[]</c> keys, so <see cref="System.Collections.Concurrent.ConcurrentDictionary{TKey, TValue}"/>
/// can serve as the managed baseline: <see cref="MemoryExtensions.SequenceEqual{T}(Span{T}, ReadOnlySpan{T})"/>
/// (vectorized) and <see cref="HashCode.AddBytes"/>. There is deliberately no reference-equality shortcut, so a
/// lookup with a key array the dictionary happens to hold costs the same as one with a copy.
/// </summary>
public sealed class ByteArrayComparer : IEqualityComparer<byte[]>
{
    public static ByteArrayComparer Instance { get; } = new();

    public bool Equals(byte[]? x, byte[]? y) =>
        x is not null && y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var hash = default(HashCode);
        hash.AddBytes(obj);
        return hash.ToHashCode();
    }
}
