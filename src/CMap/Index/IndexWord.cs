using System.Runtime.CompilerServices;

namespace CMap;

/// <summary>
/// One 64-bit index slot, published with a single release store:
/// <code>[2-bit access count][11-bit hash tag][3-bit size class][48-bit entry address]</code>
/// The tag is bits 51..61 of the key's hash; a match is only a hint, confirmed by comparing the full key (1 in 2,048
/// foreign words reaches that comparison). The size class says how to find the entry's chunk header from its address
/// (see Chunk.HeaderOf). The access count (0..3, S3-FIFO's two-bit frequency) is raised by a read that hits while the
/// map has a byte budget, with a compare-and-swap that gives up on contention and is skipped once the count is 3 [I9];
/// eviction lowers it each time it looks at the entry and keeps the entry while it was above 0. The hash's other bits
/// are spent elsewhere: bits 32..47 pick the shard, bits 0..31 the first slot probed.
/// </summary>
internal static unsafe class IndexWord
{
    internal const int AddressBits = 48;
    internal const int ClassBits = 3;
    internal const int TagBits = 11;
    internal const int ClassShift = AddressBits;                // 48
    internal const int TagShift = ClassShift + ClassBits;       // 51
    internal const ulong AddressMask = (1ul << AddressBits) - 1;
    internal const ulong ClassMask = (1ul << ClassBits) - 1;
    internal const ulong TagMask = ((1ul << TagBits) - 1) << TagShift;
    internal const int CountShift = TagShift + TagBits;         // 62

    /// <summary>One read in the access count.</summary>
    internal const ulong CountOne = 1ul << CountShift;

    /// <summary>The access count's two bits: reads since eviction last looked at the entry, saturating at 3.</summary>
    internal const ulong CountMask = 3ul << CountShift;

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

    /// <summary>True when a read hit the entry since eviction last looked at it (its access count is not 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsMarked(ulong word) => (word & CountMask) != 0;

    /// <summary>True when the access count is 3: a read then stores nothing. One unsigned compare (the count is the top two bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsSaturated(ulong word) => word >= CountMask;

    /// <summary>The word with its access count lowered by one (eviction looked at a marked entry and kept it).</summary>
    internal static ulong Cooled(ulong word) => IsMarked(word) ? word - CountOne : word;

    /// <summary>The word with its access count at 0.</summary>
    internal static ulong Unmarked(ulong word) => word & ~CountMask;

    internal static bool IsLive(ulong word) => word > Tombstone;
}
