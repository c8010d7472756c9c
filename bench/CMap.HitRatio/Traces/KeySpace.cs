using System;
using System.Buffers.Binary;

namespace CMap.HitRatio.Traces;

/// <summary>
/// What a key number stands for: a 16-byte key and a value whose size is drawn once per key, log-uniform between
/// <see cref="MinValueSize"/> and <see cref="MaxValueSize"/>, from a hash of the key number and the seed (so it is
/// fixed per key and the same in every run with that seed). Value bytes come from one shared random buffer at an
/// offset fixed per key: CMap stores real bytes, and a hit can be checked against them.
/// </summary>
internal sealed class KeySpace
{
    public const int KeySize = 16;

    /// <summary>Distinct value start offsets in the shared buffer.</summary>
    private const int Window = 1 << 20;

    private const ulong SizeSalt = 0x51AE_5EED_0000_0001ul;
    private const ulong KeySalt = 0x51AE_5EED_0000_0002ul;
    private const ulong OffsetSalt = 0x51AE_5EED_0000_0003ul;

    private readonly ulong _seed;
    private readonly double _logMin;
    private readonly double _logRange;
    private readonly byte[] _values;

    public KeySpace(ulong seed, int minValueSize, int maxValueSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minValueSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxValueSize, Math.Max(1, minValueSize));
        _seed = seed;
        MinValueSize = minValueSize;
        MaxValueSize = maxValueSize;
        _logMin = Math.Log(Math.Max(1, minValueSize));
        _logRange = Math.Log(maxValueSize) - _logMin;
        _values = new byte[Window + maxValueSize];
        var random = new SplitMix64(seed ^ OffsetSalt);
        for (int i = 0; i + sizeof(ulong) <= _values.Length; i += sizeof(ulong))
        {
            BinaryPrimitives.WriteUInt64LittleEndian(_values.AsSpan(i), random.Next());
        }
    }

    public int MinValueSize { get; }

    public int MaxValueSize { get; }

    /// <summary>The value size of key <paramref name="id"/>: log-uniform in [min, max], fixed per key.</summary>
    public int ValueSize(int id)
    {
        double u = (SplitMix64.Mix((ulong)id ^ _seed ^ SizeSalt) >> 11) * (1.0 / (1ul << 53));
        return (int)Math.Clamp(Math.Round(Math.Exp(_logMin + (u * _logRange))), MinValueSize, MaxValueSize);
    }

    /// <summary>Key plus value bytes: what every byte-bounded cache here counts an entry as.</summary>
    public long EntryBytes(int id) => KeySize + ValueSize(id);

    /// <summary>The key bytes of <paramref name="id"/>: the number itself, then a hash of it (unique per number).</summary>
    public void WriteKey(int id, Span<byte> key)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(key, (ulong)id);
        BinaryPrimitives.WriteUInt64LittleEndian(key[sizeof(ulong)..], SplitMix64.Mix((ulong)id ^ _seed ^ KeySalt));
    }

    /// <summary>The value bytes of <paramref name="id"/> (<paramref name="size"/> = <see cref="ValueSize"/>).</summary>
    public ReadOnlySpan<byte> Value(int id, int size) => _values.AsSpan(ValueOffset(id), size);

    private int ValueOffset(int id) => (int)(SplitMix64.Mix((ulong)id ^ _seed ^ OffsetSalt) % Window);
}
