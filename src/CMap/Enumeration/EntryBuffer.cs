using System;
using System.Buffers;
using System.Buffers.Binary;

namespace CMap;

/// <summary>
/// A pooled, growable buffer of copied entries, packed as [int key length][int value length][key][value]: what an
/// enumerator yields from and a snapshot writes from, so that neither holds an epoch region or a lock while user code
/// or a stream runs. Grows by doubling from <see cref="ArrayPool{T}.Shared"/>; allocates nothing per entry.
/// </summary>
internal struct EntryBuffer
{
    internal const int RecordOverhead = 2 * sizeof(int);

    private byte[]? _bytes;
    private int _length;

    /// <summary>Bytes written.</summary>
    internal readonly int Length => _length;

    /// <summary>Bytes held (the array's size), for tests that check what an enumeration keeps.</summary>
    internal readonly int Capacity => _bytes?.Length ?? 0;

    internal readonly ReadOnlySpan<byte> Written => _bytes.AsSpan(0, _length);

    /// <summary>Appends one entry. Throws out-of-memory when the buffer cannot grow (the buffer is unchanged then).</summary>
    internal void Append(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        int need = RecordOverhead + key.Length + value.Length;
        if (_bytes is null || _bytes.Length - _length < need)
        {
            Grow(need);
        }

        Span<byte> dst = _bytes.AsSpan(_length);
        BinaryPrimitives.WriteInt32LittleEndian(dst, key.Length);
        BinaryPrimitives.WriteInt32LittleEndian(dst[sizeof(int)..], value.Length);
        key.CopyTo(dst[RecordOverhead..]);
        value.CopyTo(dst[(RecordOverhead + key.Length)..]);
        _length += need;
    }

    /// <summary>The array behind the buffer (spans into it escape nothing of the caller's).</summary>
    internal readonly byte[]? Array => _bytes;

    /// <summary>Makes room for <paramref name="bytes"/> bytes in all (a hint: capped at the largest array).</summary>
    internal void EnsureCapacity(long bytes)
    {
        bytes = Math.Min(bytes, System.Array.MaxLength);
        if ((_bytes?.Length ?? 0) < bytes)
        {
            Grow((int)(bytes - _length));
        }
    }

    /// <summary>Reserves <paramref name="bytes"/> bytes at the end and returns them (snapshot records are encoded in place).</summary>
    internal Span<byte> Reserve(int bytes)
    {
        if (_bytes is null || _bytes.Length - _length < bytes)
        {
            Grow(bytes);
        }

        Span<byte> span = _bytes.AsSpan(_length, bytes);
        _length += bytes;
        return span;
    }

    /// <summary>The written bytes, writable (to fill in checksums after the copy).</summary>
    internal readonly Span<byte> WrittenMutable => _bytes.AsSpan(0, _length);

    /// <summary>Reads the record at <paramref name="offset"/>: where its key starts and the two lengths.</summary>
    internal readonly (int KeyStart, int KeyLength, int ValueLength) ReadRecord(int offset)
    {
        ReadOnlySpan<byte> src = _bytes.AsSpan(offset, _length - offset);
        return (offset + RecordOverhead, BinaryPrimitives.ReadInt32LittleEndian(src), BinaryPrimitives.ReadInt32LittleEndian(src[sizeof(int)..]));
    }

    internal void Reset() => _length = 0;

    /// <summary>Returns the array to the pool. Idempotent.</summary>
    internal void Release()
    {
        if (_bytes is not null)
        {
            ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = null;
            _length = 0;
        }
    }

    private void Grow(int need)
    {
        long wanted = Math.Max((long)_length + need, Math.Max(4096L, (_bytes?.Length ?? 0) * 2L));
        if (wanted > System.Array.MaxLength)
        {
            wanted = Math.Max((long)_length + need, System.Array.MaxLength);
            if (wanted > System.Array.MaxLength)
            {
                throw new InsufficientMemoryException("CMap: one shard's entries do not fit in a single array for copying.");
            }
        }

        byte[] next = ArrayPool<byte>.Shared.Rent((int)wanted);
        _bytes.AsSpan(0, _length).CopyTo(next);
        if (_bytes is not null)
        {
            ArrayPool<byte>.Shared.Return(_bytes);
        }

        _bytes = next;
    }
}
