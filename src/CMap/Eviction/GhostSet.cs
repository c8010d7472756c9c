using System;

namespace CMap;

/// <summary>
/// S3-FIFO's ghost queue for one shard: fingerprints of keys recently evicted from probation without having been
/// read. A key written again while its fingerprint is here was evicted too soon, and enters the main region directly.
/// Direct-mapped (one 32-bit fingerprint per slot, a newer eviction overwriting an older one), so it costs 4 bytes a
/// slot, no per-entry object, and never more than its array; sized to the shard's entry count and rebuilt empty when
/// that doubles. Managed (a <c>uint[]</c> has no references for the GC to trace). Writer only, under the shard lock.
/// </summary>
internal sealed class GhostSet
{
    private uint[] _slots;
    private int _mask;

    internal GhostSet(long entries)
    {
        _slots = new uint[SizeFor(entries)];
        _mask = _slots.Length - 1;
    }

    internal int Capacity => _slots.Length;

    /// <summary>Remembers <paramref name="hash"/> as evicted, resizing first when the shard has grown past the set.</summary>
    internal void Add(ulong hash, long shardEntries)
    {
        if (shardEntries > _slots.Length)
        {
            _slots = new uint[SizeFor(shardEntries)];
            _mask = _slots.Length - 1;
        }

        _slots[(int)hash & _mask] = Fingerprint(hash);
    }

    /// <summary>True (and forgets it) when <paramref name="hash"/> was evicted recently.</summary>
    internal bool TryTake(ulong hash)
    {
        ref uint slot = ref _slots[(int)hash & _mask];
        if (slot != Fingerprint(hash))
        {
            return false;
        }

        slot = 0;
        return true;
    }

    // The low bits pick the slot, the top 32 bits are the fingerprint (of which the few that pick the shard are the same
    // for every key here, leaving at least 16 that tell keys apart). Never 0, which marks an empty slot.
    private static uint Fingerprint(ulong hash) => (uint)(hash >> 32) | 1;

    private static int SizeFor(long entries) => (int)Math.Min(1 << 24, Math.Max(64, (long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1, entries))));
}
