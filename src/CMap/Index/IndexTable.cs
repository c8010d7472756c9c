using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
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

    /// <summary>
    /// Sliding expiry's side array, parallel to the slots: the timestamp of each sliding entry's last recorded access,
    /// or null until the table holds a sliding entry. Set by the writer, before the first word that needs it is
    /// published [I10]; updated by readers with a compare-and-swap; freed with the table.
    /// </summary>
    public long* Access;

    public readonly long Capacity => (long)Mask + 1;

    /// <summary>Grow or purge once live plus tombstone slots would pass three quarters of the capacity.</summary>
    public readonly long MaxUsed => Capacity - (Capacity >> 2);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong* Slots(IndexTable* t) => (ulong*)((byte*)t + HeaderSize);

    internal static long BytesFor(long capacity) => HeaderSize + (capacity * sizeof(ulong));

    /// <summary>
    /// Bytes of a side array of last-access times for <paramref name="capacity"/> slots: a 64-byte header, then the
    /// times. The header is never touched by readers, so the retire list may link the array through it while a
    /// reader still records an access in it (see RetireLink).
    /// </summary>
    internal static long AccessBytesFor(long capacity) => HeaderSize + (capacity * sizeof(long));

    /// <summary>Slots ahead a table walk prefetches the entries of: enough to keep several DRAM misses in flight.</summary>
    internal const int PrefetchDistance = 24;

    /// <summary>
    /// A table walk (enumeration, snapshots) touches entries in hash order, each a likely cache miss: prefetching
    /// the entry <see cref="PrefetchDistance"/> slots ahead overlaps those misses instead of taking them one by one.
    /// A hint only: a word changed or freed meanwhile costs nothing (prefetches never fault).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void PrefetchAhead(ulong* slots, long i, long capacity)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported && i + PrefetchDistance < capacity)
        {
            ulong w = Volatile.Read(ref slots[i + PrefetchDistance]);
            if (IndexWord.IsLive(w))
            {
                // Two lines: a small entry (header, key, value) often straddles a line boundary.
                byte* e = IndexWord.Address(w);
                System.Runtime.Intrinsics.X86.Sse.Prefetch0(e);
                System.Runtime.Intrinsics.X86.Sse.Prefetch0(e + 64);
            }
        }
    }

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

    public override readonly string ToString() => $"IndexTable(capacity={Capacity}, live={Live}, tombstones={Tombstones}, access={(Access == null ? "none" : "yes")})";
}
