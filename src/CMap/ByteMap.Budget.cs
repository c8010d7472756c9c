using System;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap.Buffer;

namespace CMap;

// The budgeted write path: every put reaches its shard through WriteToShard, and with a byte budget makes room first.
public sealed partial class ByteMap
{
    /// <summary>Every write reaches its shard through here: with a budget, it makes room for itself first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private WriteOutcome WriteToShard<TOperation>(ref Shard shard, ReadOnlySpan<byte> key, ulong hash, ref TOperation operation, in EntryExpiry expiry, long now)
        where TOperation : struct, IWriteOperation, allows ref struct
    {
        if (expiry.IsSet)
        {
            // An entry that expires needs the expiry timer running (to leave an idle map). Armed before the write, with
            // no shard lock held and no epoch region entered: creating the timer calls the user's TimeProvider, and no
            // user code runs under a shard lock (I11); should it throw, nothing has changed yet. (Armed after the
            // write, a throw would skip the caller's release of the region a swap holds for the old value [I11], and
            // this map's Clear, Compact and Dispose would then wait forever.) Arming for a write that then fails is
            // harmless. Once armed this is one volatile read.
            _expiryTimer.Arm();
        }

        WriteOutcome outcome = _budget is null
            ? shard.Write(key, hash, ref operation, expiry, now)
            : WriteWithinBudget(ref shard, key, hash, ref operation, expiry, now);
        return outcome;
    }

    /// <summary>
    /// A budgeted write: the shard says, under its lock, what its append would allocate; if that would pass the
    /// budget, the write makes room with no lock held and asks again. After a few rounds it writes regardless: a write
    /// never fails because the cache is full.
    /// </summary>
    private WriteOutcome WriteWithinBudget<TOperation>(ref Shard shard, ReadOnlySpan<byte> key, ulong hash, ref TOperation operation, in EntryExpiry expiry, long now)
        where TOperation : struct, IWriteOperation, allows ref struct
    {
        for (int round = 0; ; round++)
        {
            WriteOutcome outcome = shard.Write(key, hash, ref operation, expiry, now, mayDefer: round < 3, out long needed);
            if (outcome != WriteOutcome.NeedsRoom)
            {
                return outcome;
            }

            MakeRoom(ref shard, needed);
        }
    }

    /// <summary>
    /// Free chunks and blocks the pools keep count against the budget and cost nothing to give back: every eviction,
    /// inline or in the background, gives them up first. Never under a shard lock.
    /// </summary>
    private void GiveUpPooledMemory()
    {
        if (_memory.Pool.HasRetained)
        {
            _memory.Pool.Trim();
        }
    }

    /// <summary>
    /// Makes room for a write of <paramref name="incoming"/> native bytes: first a non-blocking drain (retired bytes
    /// readers have left count against the budget); then, if the settled bytes still leave no room (the compactor
    /// has fallen behind), the writer evicts inline, by the compactor's own policy (oldest first, entries with an access
    /// count kept with a second chance and the count lowered): its own shard first, then the others in turn; then,
    /// copying nothing, it drops entries whose count is 0 and resets the rest to 0 (CLOCK's second chance in place);
    /// only as a last resort everything, tails too. It takes one shard's lock at a time (never two, so there is no lock order to break) and never waits
    /// for the compactor. Writes in flight at once may each pass the check: the
    /// bound is the budget plus what they write.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void MakeRoom(ref Shard own, long incoming)
    {
        MemoryBudget budget = _budget!;
        if (_memory.Retired.PendingBytes > 0)
        {
            _memory.Retired.TryDrain();
        }

        if (budget.MustEvictInline(incoming))
        {
            GiveUpPooledMemory();
        }

        // As the compactor would: a chunk at a time, counted entries moved to main with their counts lowered. When
        // everything is hot this frees little (an entry read three times survives three looks), so the bound is
        // generous and the in-place passes below follow; it stops early once a whole round over the shards found
        // nothing to evict.
        int start = Interlocked.Increment(ref _inlineCursor);
        for (int step = 0, idle = 0; step < 64 * _shards.Length && idle < _shards.Length && budget.MustEvictInline(incoming); step++)
        {
            ref Shard s = ref step == 0 ? ref own : ref _shards[(start + step) & _shardMask];
            idle = s.EvictOldest(sealTails: false) ? 0 : idle + 1;
        }

        for (int pass = 0; pass < 2 && budget.MustEvictInline(incoming); pass++)
        {
            for (int i = -1; i < _shards.Length && budget.MustEvictInline(incoming); i++)
            {
                // What the evictions so far retired may have reached the pools: give it up before dropping more.
                GiveUpPooledMemory();
                (i < 0 ? ref own : ref _shards[(start + i) & _shardMask]).MakeRoom(incoming, lastResort: pass == 1);
            }
        }

        if (_memory.Retired.PendingBytes > 0)
        {
            _memory.Retired.TryDrain();
        }
    }
}
