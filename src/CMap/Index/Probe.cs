using System;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>What a probe looks for in the index words it passes.</summary>
internal interface ISlotMatch
{
    /// <summary>True when <paramref name="word"/> (live: neither empty nor a tombstone) is the one sought.</summary>
    bool Matches(ulong word, ulong hash);
}

/// <summary>The entry whose key equals <see cref="Key"/>: the tag is a hint, the full key comparison decides.</summary>
internal readonly unsafe ref struct KeyMatch(ReadOnlySpan<byte> key) : ISlotMatch
{
    public readonly ReadOnlySpan<byte> Key = key;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Matches(ulong word, ulong hash) =>
        IndexWord.TagMatches(word, hash) && new EntryReader(IndexWord.Address(word)).KeyEquals(Key);
}

/// <summary>The word that points at one particular copy of an entry (compaction: is this copy still the live one?).</summary>
internal readonly unsafe struct AddressMatch(byte* entry) : ISlotMatch
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Matches(ulong word, ulong hash) => IndexWord.Address(word) == entry;
}

/// <summary>Matches nothing: a probe that only finds where a new word would go (rebuilds).</summary>
internal readonly struct NoMatch : ISlotMatch
{
    public bool Matches(ulong word, ulong hash) => false;
}

/// <summary>Where a probe that found nothing remembers a free slot: writers need one, readers do not.</summary>
internal interface IFreeSlot
{
    void Offer(ulong slot);
}

/// <summary>Remembers the chain's first tombstone or empty slot: where a missing key would go.</summary>
internal struct FirstFreeSlot : IFreeSlot
{
    public long Slot;

    public FirstFreeSlot() => Slot = -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Offer(ulong slot)
    {
        if (Slot < 0)
        {
            Slot = (long)slot;
        }
    }
}

/// <summary>Readers: nothing to remember (the JIT removes every call).</summary>
internal struct IgnoreFreeSlot : IFreeSlot
{
    public readonly void Offer(ulong slot)
    {
    }
}

/// <summary>The index's one probe loop: linear probing from the hash's home slot (<see cref="IndexTable.HomeSlot"/>), used by readers, writers, compaction and rebuilds.</summary>
internal static unsafe class Probe
{
    /// <summary>
    /// Probes <paramref name="table"/> for the word <paramref name="match"/> accepts. Returns its slot and sets
    /// <paramref name="word"/>; or returns -1, having offered <paramref name="free"/> the chain's tombstones and the
    /// empty slot that ended it. Safe lock-free inside an epoch region (the table and every entry it points at stay
    /// readable until the region ends), and under the shard lock.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long Find<TMatch, TFree>(IndexTable* table, ulong hash, in TMatch match, ref TFree free, out ulong word)
        where TMatch : struct, ISlotMatch, allows ref struct
        where TFree : struct, IFreeSlot
    {
        ulong size = table->Size;
        ulong* slots = IndexTable.Slots(table);
        ulong i = IndexTable.HomeSlot(hash, size);
        while (true)
        {
            // [I1] Acquire: the entry's bytes were written before the word that points at them.
            ulong w = Volatile.Read(ref slots[i]);
            if (w == IndexWord.Empty)
            {
                free.Offer(i);
                word = IndexWord.Empty;
                return -1;
            }

            if (w == IndexWord.Tombstone)
            {
                free.Offer(i);
            }
            else if (match.Matches(w, hash))
            {
                word = w;
                return (long)i;
            }

            i = IndexTable.NextSlot(i, size);
        }
    }

    /// <summary>A lookup: the slot holding the word <paramref name="match"/> accepts, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long Find<TMatch>(IndexTable* table, ulong hash, in TMatch match, out ulong word)
        where TMatch : struct, ISlotMatch, allows ref struct
    {
        var ignore = default(IgnoreFreeSlot);
        return Find(table, hash, match, ref ignore, out word);
    }

    /// <summary>A lookup that also returns where a missing key would go (the chain's first free slot).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long Find<TMatch>(IndexTable* table, ulong hash, in TMatch match, out ulong word, out long insertAt)
        where TMatch : struct, ISlotMatch, allows ref struct
    {
        var free = new FirstFreeSlot();
        long slot = Find(table, hash, match, ref free, out word);
        insertAt = free.Slot;
        return slot;
    }
}
