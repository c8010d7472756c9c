using System.Runtime.CompilerServices;

namespace CMap;

/// <summary>
/// One 64-bit index slot, published with a single release store:
/// <code>[1-bit access mark][12-bit hash tag][3-bit size class][48-bit entry address]</code>
/// The tag is bits 51..62 of the key's hash; a match is only a hint, confirmed by comparing the full key (1 in 4,096
/// foreign words reaches that comparison). The size class says how to find the entry's chunk header from its address
/// (see Chunk.HeaderOf). The mark is set by a read that hits while the map has a byte budget, with a compare-and-swap
/// that gives up on contention [I9], and cleared by eviction, which gives a marked entry a second chance. The hash's
/// other bits are spent elsewhere: bits 32..47 pick the shard, bits 0..31 the first slot probed.
/// </summary>
internal static unsafe class IndexWord
{
    internal const int AddressBits = 48;
    internal const int ClassBits = 3;
    internal const int TagBits = 12;
    internal const int ClassShift = AddressBits;                // 48
    internal const int TagShift = ClassShift + ClassBits;       // 51
    internal const ulong AddressMask = (1ul << AddressBits) - 1;
    internal const ulong ClassMask = (1ul << ClassBits) - 1;
    internal const ulong TagMask = ((1ul << TagBits) - 1) << TagShift;

    /// <summary>The access mark: read since eviction last looked at the entry.</summary>
    internal const ulong Mark = 1ul << 63;

    /// <summary>A slot never used since the table was built: a probe stops here.</summary>
    internal const ulong Empty = 0;

    /// <summary>A deleted slot: probes continue past it. Address 1 is never an entry (page 0 is unmapped).</summary>
    internal const ulong Tombstone = 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Make(ulong hash, int sizeClass, byte* entry) =>
        (hash & TagMask) | ((ulong)sizeClass << ClassShift) | (ulong)entry;

    /// <summary>True when the word's tag equals the hash's tag (also true for a tombstone when the tag is 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool TagMatches(ulong word, ulong hash) => ((word ^ hash) & TagMask) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static byte* Address(ulong word) => (byte*)(word & AddressMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int SizeClass(ulong word) => (int)((word >> ClassShift) & ClassMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsMarked(ulong word) => (word & Mark) != 0;

    internal static bool IsLive(ulong word) => word > Tombstone;
}
