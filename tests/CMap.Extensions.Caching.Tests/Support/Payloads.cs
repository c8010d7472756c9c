using System;

namespace CMap.Extensions.Caching.Tests.Support;

/// <summary>Seeded payloads.</summary>
internal static class Payloads
{
    internal static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
