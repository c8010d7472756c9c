namespace CMap.HitRatio.Traces;

/// <summary>
/// SplitMix64: a tiny, fast, seedable generator whose sequence depends on nothing but its seed (not on the runtime's
/// <see cref="System.Random"/> implementation), so a trace is the same on every machine and .NET version.
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private const ulong Gamma = 0x9E3779B97F4A7C15ul;

    private ulong _state = seed;

    public ulong Next()
    {
        _state = unchecked(_state + Gamma);
        return Mix(_state);
    }

    /// <summary>Uniform in [0, 1), 53 bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1ul << 53));

    /// <summary>SplitMix64's finalizer: a bijection on 64-bit values, also used to hash key numbers.</summary>
    public static ulong Mix(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
            return z ^ (z >> 31);
        }
    }
}
