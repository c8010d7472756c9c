using System;
using System.Buffers.Binary;

namespace CMap.Compare;

/// <summary>SplitMix64: a tiny, fast, seedable generator for key picks inside timed loops.</summary>
internal struct FastRandom
{
    private ulong _state;

    public FastRandom(ulong seed) => _state = seed;

    /// <summary>The SplitMix64 finalizer: a bijection on 64-bit integers.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>A value in [0, <paramref name="bound"/>), from the top 32 bits (Lemire's multiply-shift).</summary>
    public int NextIndex(int bound) => (int)(((Next() >> 32) * (ulong)(uint)bound) >> 32);

    public void Fill(Span<byte> destination)
    {
        while (destination.Length >= sizeof(ulong))
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination, Next());
            destination = destination[sizeof(ulong)..];
        }

        Span<byte> tail = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(tail, Next());
        tail[..destination.Length].CopyTo(destination);
    }
}
