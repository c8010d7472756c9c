using System;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// The one read core: every read (Get, both TryGets, TryRead, ContainsKey, Refresh and GetOrInsert's hit) is this.
/// Expiry checks, access marks and hit and miss counts live here and nowhere else.
/// </summary>
internal unsafe partial struct Shard
{
    /// <summary>
    /// Looks <paramref name="key"/> up lock-free inside the map's epoch region and hands the stored value to
    /// <paramref name="consumer"/> before leaving it, whatever happens. Returns whether the key was found (an expired
    /// entry is not). Throws <see cref="ObjectDisposedException"/> once the map is disposed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Read<TConsumer>(ReadOnlySpan<byte> key, ulong hash, ref TConsumer consumer)
        where TConsumer : struct, IValueConsumer, allows ref struct
    {
        long* slot = _epoch.Enter();
        bool found;
        if (!TConsumer.MayThrow)
        {
            // Nothing between Enter and Exit can throw for these consumers, so no try/finally (a measurable cost
            // on a 10 ns read). The JIT keeps only one of the two branches per consumer.
            found = ReadInside(key, hash, ref consumer, slot);
        }
        else
        {
            try
            {
                found = ReadInside(key, hash, ref consumer, null);
            }
            catch
            {
                EpochDomain.Exit(slot);
                throw;
            }
        }

        // The thread's own counters, on the slot line it has just written: a plain increment, never shared.
        slot[found ? EpochDomain.HitsOffset : EpochDomain.MissesOffset]++;
        EpochDomain.Exit(slot);
        return found;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ReadInside<TConsumer>(ReadOnlySpan<byte> key, ulong hash, ref TConsumer consumer, long* exitOnClockFailure)
        where TConsumer : struct, IValueConsumer, allows ref struct
    {
        // [I2] Acquire: the table's slots were filled before its pointer was published.
        var t = (IndexTable*)Volatile.Read(ref _table);
        long slot = Probe.Find(t, hash, new KeyMatch(key), out ulong word);
        if (slot < 0)
        {
            return false;
        }

        var entry = new EntryReader(IndexWord.Address(word));

        // An entry without expiry reads no clock: this is one bit of the header the key comparison already loaded.
        if (entry.HasExpiry && IsExpiredOnRead(t, slot, entry.Deadline, entry.Window, exitOnClockFailure, key, hash, IndexWord.Address(word)))
        {
            return false;
        }

        if (_budgeted && !IndexWord.IsSaturated(word))
        {
            MarkAccessed(t, slot, word);
        }

        // [E2] The consumer runs inside the region, so the entry stays readable for as long as it reads.
        consumer.Consume(entry.Value);
        return true;
    }

    /// <summary>
    /// True when the entry in <paramref name="slot"/> has expired. For a sliding entry that has not, records this
    /// access once the recorded one lags by the granularity [I10]. The clock is the user's: should it throw on a
    /// read path without a try/finally, <paramref name="exitOnClockFailure"/> is the region to leave first.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool IsExpiredOnRead(IndexTable* t, long slot, long deadline, long window, long* exitOnClockFailure, ReadOnlySpan<byte> key, ulong hash, byte* entry)
    {
        long now;
        try
        {
            now = Clock.Now();
        }
        catch when (exitOnClockFailure != null)
        {
            EpochDomain.Exit(exitOnClockFailure);
            throw;
        }

        // [I10] Past the absolute deadline, which lives in the immutable entry: nothing can bring the entry back, so no
        // seal is needed, and none may be tried. The access cell belongs to the slot, not the entry: between this
        // reader's load of the word and its load of the cell, a write may have put a new entry for the key in the same
        // slot (an expired entry's slot is reused) and stored the new entry's first access there. A seal would then
        // land on the new entry, and a write that returned would vanish.
        if (now >= deadline)
        {
            return true;
        }

        if (window == 0)
        {
            return false;
        }

        // [I10] The side array was published before the first sliding word that needs it, which we loaded with
        // acquire; the word's slot in this table indexes it.
        ref long access = ref t->Access[slot];
        while (true)
        {
            long last = Volatile.Read(ref access);
            if (now >= ExpiryClock.EffectiveDeadline(deadline, window, last))
            {
                // [I10] Seal it: a reader that saw the entry unexpired on an earlier clock read may still be about to
                // record its access, and must not bring back what this read reports gone. Its CAS expects the time it
                // read, so after this one it fails. A lost race means the time moved: look again.
                if (last == ExpiryClock.Expired || Interlocked.CompareExchange(ref access, ExpiryClock.Expired, last) == last)
                {
                    SealInNewerTables(t, key, hash, entry);
                    return true;
                }

                continue;
            }

            if (now - last >= Clock.GranularityFor(window))
            {
                // [I10] A compare-and-swap that gives up: it replaces only the time it read, so it never overwrites a
                // writer's newer one (a new entry in this slot), a later reader's, or a seal. Losing the race loses
                // nothing: the winner recorded an access at least as recent, or the entry expired (look again).
                if (Interlocked.CompareExchange(ref access, now, last) != last)
                {
                    continue;
                }

                // [I10] A rebuild may have copied this slot's time before the CAS landed. The CAS is a full fence, and
                // a rebuild fences between publishing its table and copying the times again: so either the rebuild's
                // second copy sees this store, or this load sees the new table, and the access is recorded there too.
                RecordAccessInNewerTables(t, key, hash, entry, now, deadline, window);
            }

            return false;
        }
    }

    /// <summary>After a seal, the same in tables published since (a rebuild copied the time before the seal).</summary>
    private void SealInNewerTables(IndexTable* seen, ReadOnlySpan<byte> key, ulong hash, byte* entry)
    {
        for (var t = (IndexTable*)Volatile.Read(ref _table); t != seen; seen = t, t = (IndexTable*)Volatile.Read(ref _table))
        {
            long slot = Probe.Find(t, hash, new KeyMatch(key), out ulong word);
            if (slot < 0 || IndexWord.Address(word) != entry || t->Access == null)
            {
                return;
            }

            Volatile.Write(ref t->Access[slot], ExpiryClock.Expired); // an expired entry never comes back: no CAS needed
        }
    }

    private void RecordAccessInNewerTables(IndexTable* seen, ReadOnlySpan<byte> key, ulong hash, byte* entry, long now, long deadline, long window)
    {
        for (var t = (IndexTable*)Volatile.Read(ref _table); t != seen; seen = t, t = (IndexTable*)Volatile.Read(ref _table))
        {
            long slot = Probe.Find(t, hash, new KeyMatch(key), out ulong word);
            if (slot < 0 || IndexWord.Address(word) != entry || t->Access == null)
            {
                return; // replaced, removed or cleared meanwhile: nothing of this entry to extend
            }

            ref long access = ref t->Access[slot];
            long last = Volatile.Read(ref access);
            if (last < now && now < ExpiryClock.EffectiveDeadline(deadline, window, last))
            {
                Interlocked.CompareExchange(ref access, now, last); // never over a seal (its deadline has passed)
            }
        }
    }

    /// <summary>
    /// [I9] Raises the access count by one with one compare-and-swap that gives up: it succeeds only if the slot still
    /// holds the word this read found, so a writer's newer word (or a compactor's swing) is never erased. A lost race
    /// only leaves the count lower: the entry may be evicted a little early, never corrupted. Never called on a
    /// saturated count (3), so the add cannot carry out of the count's bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MarkAccessed(IndexTable* t, long slot, ulong word) =>
        Interlocked.CompareExchange(ref IndexTable.Slots(t)[slot], word + IndexWord.CountOne, word);
}
