using System;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>What the read core's expiry check found.</summary>
internal enum ExpiryVerdict : byte
{
    /// <summary>The entry has not expired: return it.</summary>
    Live,

    /// <summary>The entry has expired: a miss.</summary>
    Expired,

    /// <summary>[I10] The slot or the table changed while the entry's expiry was judged: look the key up again.</summary>
    Retry,
}

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
        if (entry.HasExpiry)
        {
            ExpiryVerdict verdict = CheckExpiryOnRead(t, slot, entry.Deadline, entry.Window, exitOnClockFailure, key, hash, IndexWord.Address(word));
            if (verdict != ExpiryVerdict.Live)
            {
                return verdict == ExpiryVerdict.Retry && ReadAgain(key, hash, ref consumer, exitOnClockFailure);
            }
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
    /// [I10] The slot or the shard's table changed while this read judged its entry's expiry (a write, a removal, a
    /// compaction move or a rebuild): the same read again, from the current table. Out of line, so the read core stays
    /// free of a loop; each call needs another such change during the read before it, so the depth stays small.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ReadAgain<TConsumer>(ReadOnlySpan<byte> key, ulong hash, ref TConsumer consumer, long* exitOnClockFailure)
        where TConsumer : struct, IValueConsumer, allows ref struct =>
        ReadInside(key, hash, ref consumer, exitOnClockFailure);

    /// <summary>
    /// Whether the entry in <paramref name="slot"/> has expired. For a sliding entry that has not, records this access
    /// once the recorded one lags by the granularity [I10]; <see cref="ExpiryVerdict.Retry"/> when the slot no longer
    /// holds the entry after its access cell was read (the cell may then be a newer entry's). The clock is the user's:
    /// should it throw on a read path without a try/finally, <paramref name="exitOnClockFailure"/> is the region to
    /// leave first.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ExpiryVerdict CheckExpiryOnRead(IndexTable* t, long slot, long deadline, long window, long* exitOnClockFailure, ReadOnlySpan<byte> key, ulong hash, byte* entry)
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
        // seal is needed, and none may be tried (the cell belongs to the slot, and may be a newer entry's by now). If
        // the entry was replaced while this read was parked, the key has a newer entry: look that one up instead of
        // reporting a miss that neither entry ever was.
        if (now >= deadline)
        {
            return StillHolds(t, slot, entry) ? ExpiryVerdict.Expired : ExpiryVerdict.Retry;
        }

        if (window == 0)
        {
            return ExpiryVerdict.Live;
        }

        // [I10] The side array was published before the first sliding word that needs it, which we loaded with
        // acquire; the word's slot in this table indexes it.
        ref long access = ref t->Access[slot];
        while (true)
        {
            long last = LoadOwnAccess(ref access, t, slot, entry);
            if (last == StaleAccess)
            {
                return ExpiryVerdict.Retry;
            }

            if (now >= ExpiryClock.EffectiveDeadline(deadline, window, last))
            {
                // [I10] Seal it: a reader that saw the entry unexpired on an earlier clock read may still be about to
                // record its access, and must not bring back what this read reports gone. Its CAS expects the time it
                // read, so after this one it fails. A lost race means the time moved: look again.
                if (last == ExpiryClock.Expired || Interlocked.CompareExchange(ref access, ExpiryClock.Expired, last) == last)
                {
                    // Expired by this table's time. A table a rebuild published since may hold a later access (a read
                    // there): then the entry is not expired, and the lookup starts again in the newest table.
                    return SealInNewerTables(t, key, hash, entry, now, deadline, window) ? ExpiryVerdict.Expired : ExpiryVerdict.Retry;
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

            return ExpiryVerdict.Live;
        }
    }

    /// <summary>True while the shard's current table is <paramref name="t"/> and its <paramref name="slot"/> still points at <paramref name="entry"/>.</summary>
    private bool StillHolds(IndexTable* t, long slot, byte* entry) =>
        (IndexTable*)Volatile.Read(ref _table) == t && SlotHolds(t, slot, entry);

    /// <summary>[I10] Reloads (acquire) the word in <paramref name="slot"/> of <paramref name="t"/>: true while it points at <paramref name="entry"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool SlotHolds(IndexTable* t, long slot, byte* entry) =>
        IndexWord.Address(Volatile.Read(ref IndexTable.Slots(t)[slot])) == entry;

    /// <summary>What <see cref="LoadOwnAccess"/> returns when the cell cannot be trusted: the slot no longer holds the entry.</summary>
    private const long StaleAccess = long.MinValue;

    /// <summary>
    /// [I10] Loads the access cell of <paramref name="slot"/> in <paramref name="t"/>, then reloads the slot's word: if
    /// it no longer points at <paramref name="entry"/>, returns <see cref="StaleAccess"/>. A cell belongs to its slot,
    /// not to an entry, and a write that replaces a sliding entry in place stores the new entry's first access after
    /// the new word; a write into a freed slot stores it after the tombstone that freed it. Both loads are acquire: a
    /// reader that loaded a newer entry's time therefore sees that entry's word (or a later one) on the reload, on x64
    /// (loads are not reordered with older loads, and stores become visible in program order) and on Arm64 (ldar after
    /// ldar; the writer's stlr orders its earlier stores first). Were the reload done first, or not at all, a reader
    /// could judge its entry by its successor's time: return an expired value, or seal a live one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long LoadOwnAccess(ref long access, IndexTable* t, long slot, byte* entry)
    {
        long last = Volatile.Read(ref access);
        return SlotHolds(t, slot, entry) ? last : StaleAccess;
    }

    /// <summary>
    /// After a seal in <paramref name="seen"/>, the same in the tables a rebuild published since (it copied the time
    /// before the seal), where the entry's time agrees it has expired. False when a newer table holds a later access
    /// that keeps the entry alive at <paramref name="now"/>, or no longer holds the entry: the read must look again.
    /// </summary>
    private bool SealInNewerTables(IndexTable* seen, ReadOnlySpan<byte> key, ulong hash, byte* entry, long now, long deadline, long window)
    {
        for (var t = (IndexTable*)Volatile.Read(ref _table); t != seen; seen = t, t = (IndexTable*)Volatile.Read(ref _table))
        {
            long slot = Probe.Find(t, hash, new KeyMatch(key), out ulong word);
            if (slot < 0 || IndexWord.Address(word) != entry || t->Access == null)
            {
                return false; // replaced or removed there: the newest table says what the key holds now
            }

            // [I10] A compare-and-swap from the entry's own time in that table, and only if that time agrees: a write
            // may be replacing the entry there right now (a plain store could land on its successor), and a read
            // there may have recorded an access this read's table never saw.
            ref long access = ref t->Access[slot];
            while (true)
            {
                long last = LoadOwnAccess(ref access, t, slot, entry);
                if (last == StaleAccess || now < ExpiryClock.EffectiveDeadline(deadline, window, last))
                {
                    return false;
                }

                if (last == ExpiryClock.Expired || Interlocked.CompareExchange(ref access, ExpiryClock.Expired, last) == last)
                {
                    break;
                }
            }
        }

        return true;
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
            long last = LoadOwnAccess(ref access, t, slot, entry); // [I10] the entry's own time, or stop
            if (last != StaleAccess && last < now && now < ExpiryClock.EffectiveDeadline(deadline, window, last))
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
