using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// A shard's open-addressing index, in native memory: this 64-byte header, then <see cref="Size"/> slots of
/// <see cref="IndexWord"/>, linear probing from a home slot that multiplies the hash's low 32 bits by the size (so the
/// size need not be a power of two, and a table can be sized close to the load it is built for). A table's slots are written only by the shard's writer under the shard
/// lock; readers probe them lock-free. A table is never resized in place: a rebuild makes a new one [I2].
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = HeaderSize)]
internal unsafe struct IndexTable
{
    internal const int HeaderSize = 64;
    internal const int MinCapacity = 16;

    /// <summary>The number of slots: a multiple of 8 (one cache line of words), at least <see cref="MinCapacity"/>.</summary>
    public ulong Size;

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

    public readonly long Capacity => (long)Size;

    /// <summary>
    /// Where a probe for <paramref name="hash"/> starts in a table of <paramref name="size"/> slots: bits 0..31 of the
    /// hash scaled onto [0, size) by a multiply and a shift, which spreads them as evenly as a mask would over a
    /// power of two (bits 32 and up belong to the shard and the tag; see <see cref="IndexWord"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong HomeSlot(ulong hash, ulong size) => Math.BigMul(hash << 32, size, out _);

    /// <summary>The slot after <paramref name="slot"/>, wrapping at the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong NextSlot(ulong slot, ulong size) => slot + 1 == size ? 0 : slot + 1;

    /// <summary>The slot before <paramref name="slot"/>, wrapping at the start.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong PreviousSlot(ulong slot, ulong size) => slot == 0 ? size - 1 : slot - 1;

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
                PrefetchEntry(IndexWord.Address(w));
            }
        }
    }

    /// <summary>
    /// A hint (x64; elsewhere nothing): the first two lines of the entry at <paramref name="entry"/>, since a small
    /// entry (header, key, value) often straddles a line boundary. Prefetches never fault, so a freed entry costs nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void PrefetchEntry(byte* entry)
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(entry);
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(entry + 64);
        }
    }

    /// <summary>An empty table; throws <see cref="System.OutOfMemoryException"/> and allocates nothing on failure.</summary>
    internal static IndexTable* Allocate(NativeArena arena, long capacity)
    {
        long bytes = BytesFor(capacity);
        var t = (IndexTable*)arena.AllocZeroed((nuint)bytes);
        t->Size = (ulong)capacity;
        return t;
    }

    /// <summary>
    /// The capacity a table is built with for <paramref name="entries"/> it should hold without a rebuild: those at
    /// no more than 62.5% load, rounded up to a whole cache line of slots. A rebuild grows a table by doubling once
    /// live and tombstone slots pass <see cref="MaxUsed"/> (75%), so a presized table is compact (about 12.8 bytes of
    /// index per entry), and one that has grown sits between 37.5% and 75% load. (At 70% linear probing's expected
    /// miss walks 6 slots, and a 1 K-entry map's misses measured 1.29× ConcurrentDictionary's; at 62.5%, 4 slots.)
    /// </summary>
    internal static long CapacityFor(long entries) => SlotsFor(entries, 8, 5);

    /// <summary>
    /// The capacity a shrinking rebuild fits <paramref name="entries"/> into: half load, so that the deletes and
    /// inserts that follow a mass delete have room before the next rebuild.
    /// </summary>
    internal static long SparseCapacityFor(long entries) => SlotsFor(entries, 2, 1);

    private static long SlotsFor(long entries, long numerator, long denominator)
    {
        long want = (Math.Max(0, entries) * numerator + denominator - 1) / denominator;
        return Math.Max(MinCapacity, (want + 7) & ~7L);
    }

    public override readonly string ToString() => $"IndexTable(capacity={Capacity}, live={Live}, tombstones={Tombstones}, access={(Access == null ? "none" : "yes")})";
}
