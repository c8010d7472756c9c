using System;
using System.Buffers.Binary;

namespace CMap.Compare;

/// <summary>
/// The N distinct keys of a run and a small pool of values, generated from the seed before anything is timed.
/// Each key starts with a bijective 64-bit mix of its index (so keys never collide) and is filled with
/// pseudo-random bytes after that.
/// </summary>
internal sealed class KeySet
{
    /// <summary>Keys need 8 bytes for the unique prefix.</summary>
    public const int MinKeySize = sizeof(ulong);

    private const int ValueVariants = 64;

    private readonly byte[] _keys;
    private readonly byte[] _values;

    public KeySet(int count, int keySize, int valueSize, ulong seed)
    {
        if (keySize < MinKeySize)
        {
            throw new ArgumentOutOfRangeException(nameof(keySize), keySize, $"Keys must be at least {MinKeySize} bytes.");
        }

        Count = count;
        KeySize = keySize;
        ValueSize = valueSize;
        _keys = GC.AllocateUninitializedArray<byte>(checked(count * keySize));
        _values = new byte[ValueVariants * valueSize];

        var random = new FastRandom(seed);
        ulong offset = random.Next();
        for (int i = 0; i < count; i++)
        {
            Span<byte> key = _keys.AsSpan(i * keySize, keySize);
            BinaryPrimitives.WriteUInt64LittleEndian(key, FastRandom.Mix((ulong)i + offset));
            random.Fill(key[MinKeySize..]);
        }

        random.Fill(_values);
    }

    public int Count { get; }

    public int KeySize { get; }

    public int ValueSize { get; }

    public ReadOnlySpan<byte> Key(int index) => _keys.AsSpan(index * KeySize, KeySize);

    /// <summary>One of 64 fixed values; any integer picks one.</summary>
    public ReadOnlySpan<byte> Value(int variant) => _values.AsSpan((variant & (ValueVariants - 1)) * ValueSize, ValueSize);
}
