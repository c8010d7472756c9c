using System;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using CMap.Buffer;

namespace CMap.Hashing;

/// <summary>
/// The map's one hash: seeded XXH3-64 from System.IO.Hashing. A value type, so every call is direct and inlinable.
/// The test-only mask (forced collisions) is applied only when <see cref="TestHooks"/> is armed; in every other
/// process the JIT folds that branch away.
/// </summary>
internal readonly struct KeyHasher
{
    private readonly long _seed;
    private readonly ulong _testMask;

    internal KeyHasher(ulong seed, ulong testMask)
    {
        _seed = unchecked((long)seed);
        _testMask = testMask;
    }

    internal ulong Seed => unchecked((ulong)_seed);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong Hash(ReadOnlySpan<byte> key)
    {
        ulong h = XxHash3.HashToUInt64(key, _seed);
        if (TestHooks.Enabled)
        {
            h &= _testMask;
        }

        return h;
    }
}
