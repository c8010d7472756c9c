using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// A shard's open-addressing index, in native memory: this 64-byte header, then <c>Mask + 1</c> slots of
/// <see cref="IndexWord"/>, linear probing. A table's slots are written only by the shard's writer under the shard
/// lock; readers probe them lock-free. A table is never resized in place: a rebuild makes a new one [I2].
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = HeaderSize)]
internal unsafe struct IndexTable
{
    internal const int HeaderSize = 64;
    internal const int MinCapacity = 16;

    /// <summary>Capacity - 1; capacity is a power of two.</summary>
    public ulong Mask;

    /// <summary>Slots holding a live word (writer only).</summary>
    public long Live;

    /// <summary>Slots holding a tombstone (writer only).</summary>
    public long Tombstones;

    public readonly long Capacity => (long)Mask + 1;

    /// <summary>Grow or purge once live plus tombstone slots would pass three quarters of the capacity.</summary>
    public readonly long MaxUsed => Capacity - (Capacity >> 2);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong* Slots(IndexTable* t) => (ulong*)((byte*)t + HeaderSize);

    internal static long BytesFor(long capacity) => HeaderSize + (capacity * sizeof(ulong));

    /// <summary>An empty table; throws <see cref="System.OutOfMemoryException"/> and allocates nothing on failure.</summary>
    internal static IndexTable* Allocate(NativeArena arena, long capacity)
    {
        long bytes = BytesFor(capacity);
        var t = (IndexTable*)arena.AllocZeroed((nuint)bytes);
        t->Mask = (ulong)capacity - 1;
        return t;
    }

    /// <summary>The smallest power-of-two capacity that holds <paramref name="entries"/> at no more than half load.</summary>
    internal static long CapacityFor(long entries)
    {
        long want = entries * 2;
        long cap = MinCapacity;
        while (cap < want)
        {
            cap <<= 1;
        }

        return cap;
    }

    public override readonly string ToString() => $"IndexTable(capacity={Capacity}, live={Live}, tombstones={Tombstones})";
}
