using System;
using System.Buffers.Binary;

namespace CMap.Benchmarks.Infrastructure;

/// <summary>
/// Deterministic key, value and order generation. Everything here runs in [GlobalSetup], never in a measured loop.
/// </summary>
internal static class BenchData
{
    /// <summary>
    /// Key number <paramref name="index"/>: its first 8 bytes are a bijection of <paramref name="index"/> (the
    /// SplitMix64 finalizer of index + salt), so distinct indexes always give distinct keys. Present, absent and
    /// fresh key sets are drawn from disjoint index ranges, which makes "absent" a guarantee rather than a hope.
    /// The remaining bytes are pseudo-random filler derived from the first 8.
    /// </summary>
    public static byte[] Key(long index, int size, ulong salt)
    {
        if (size < sizeof(ulong))
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "keys must be at least 8 bytes to stay unique");
        }

        var key = new byte[size];
        ulong x = Mix(unchecked((ulong)index + salt));
        BinaryPrimitives.WriteUInt64LittleEndian(key, x);
        for (int off = sizeof(ulong); off < size; off += sizeof(ulong))
        {
            x = Mix(x);
            Span<byte> rest = key.AsSpan(off);
            if (rest.Length >= sizeof(ulong))
            {
                BinaryPrimitives.WriteUInt64LittleEndian(rest, x);
            }
            else
            {
                for (int i = 0; i < rest.Length; i++)
                {
                    rest[i] = (byte)(x >> (8 * i));
                }
            }
        }

        return key;
    }

    /// <summary>Keys for indexes [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>).</summary>
    public static byte[][] Keys(long first, int count, int size, ulong salt)
    {
        var keys = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            keys[i] = Key(first + i, size, salt);
        }

        return keys;
    }

    /// <summary>Hex strings of <paramref name="keys"/> (MemoryCache keys), computed once in setup.</summary>
    public static string[] Hex(byte[][] keys) => Array.ConvertAll(keys, k => Convert.ToHexString(k));

    /// <summary>Fills <paramref name="destination"/> with pseudo-random bytes determined by <paramref name="index"/>.</summary>
    public static void FillValue(long index, Span<byte> destination)
    {
        ulong x = Mix(unchecked((ulong)index * 0x9E3779B97F4A7C15ul + 0x5EED));
        int i = 0;
        for (; i + sizeof(ulong) <= destination.Length; i += sizeof(ulong))
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[i..], x);
            x = unchecked(x + 0x9E3779B97F4A7C15ul);
            x = Mix(x);
        }

        for (; i < destination.Length; i++)
        {
            destination[i] = (byte)(x >> (8 * (i & 7)));
        }
    }

    public static byte[] Value(long index, int size)
    {
        var v = new byte[size];
        FillValue(index, v);
        return v;
    }

    /// <summary>
    /// A sequence of <paramref name="length"/> indexes in [0, <paramref name="count"/>): concatenated random
    /// permutations, so every index is visited once per <paramref name="count"/> positions.
    /// </summary>
    public static int[] PermutationSequence(int count, int length, int seed)
    {
        var rng = new Random(seed);
        var perm = new int[count];
        for (int i = 0; i < count; i++)
        {
            perm[i] = i;
        }

        var seq = new int[length];
        for (int filled = 0; filled < length;)
        {
            rng.Shuffle(perm);
            int n = Math.Min(count, length - filled);
            Array.Copy(perm, 0, seq, filled, n);
            filled += n;
        }

        return seq;
    }

    /// <summary>The smallest multiple of <paramref name="multiple"/> that is at least <paramref name="value"/>.</summary>
    public static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>SplitMix64's finalizer: a bijection on 64-bit values.</summary>
    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
            return z ^ (z >> 31);
        }
    }
}
