using System;

namespace CMap.Hashing;

/// <summary>XXH3-64 (placeholder; being written).</summary>
internal static class XxHash3
{
    internal static ulong HashToUInt64(ReadOnlySpan<byte> source, ulong seed) => throw new NotImplementedException();
}
