using System;
using System.Threading;

namespace CMap;

// The map's background work: the compactor's pass (expiry sweeps, compaction, eviction) and the expiry timer's tick.
public sealed partial class ByteMap
{
    // Where the next eviction step starts, so that successive steps spread over the shards (compactor only).
    private int _evictionCursor;

    /// <summary>
    /// One background pass: sweeps the shards the expiry timer found due, compacts the shards that asked, and evicts
    /// while the map is over its budget. Never throws; failures go to statistics. Returns true when the scheduler
    /// should run it again soon although no shard asks: compaction deferred itself [E7] (while this map's readers
    /// hold back more than <see cref="CMap.Buffer.RetireList.HeldBackBytesThreshold"/> of retired memory, compacting
    /// could free nothing and would only copy live entries into fresh chunks; the requests stay pending), or eviction
    /// stopped before the map was back under its target.
    /// </summary>
    private bool RunCompactionPass()
    {
        bool again = false;
        using (_compactionGate.EnterScope())
        {
            if (_memory.Epoch.IsClosed)
            {
                return false;
            }

            RunSweepsUnderGate();
            if (_memory.Retired.IsHeldBackByReaders)
            {
                Interlocked.Increment(ref _compactionDeferrals);
                again = true;
            }
            else
            {
                foreach (ref Shard s in _shards.AsSpan())
                {
                    if (_memory.Epoch.IsClosed)
                    {
                        return false;
                    }

                    if (s.TakeCompactionRequest())
                    {
                        Guarded(ref s, static (ref Shard s) => s.Compact(everything: false));
                    }
                }
            }

            if (_budget is { NeedsEviction: true })
            {
                again |= !EvictToBudgetUnderGate();
            }

            Interlocked.Increment(ref _compactionPasses);
        }

        _memory.Retired.TryDrain();
        GC.KeepAlive(this); // [E8] a finalizer never runs while a pass does
        return again;
    }

    /// <summary>
    /// Evicts, a chunk or block at a time and shard after shard, until the settled bytes are back at 96% of the
    /// budget. Returns false when it stopped first (a bounded number of steps, so that a pass ends; entries with an
    /// access count get a second chance, up to three, and free nothing until it runs out).
    /// </summary>
    private bool EvictToBudgetUnderGate()
    {
        MemoryBudget budget = _budget!;
        GiveUpPooledMemory();
        int idle = 0;
        int maxSteps = 64 * _shards.Length;
        for (int step = 0; step < maxSteps && budget.SettledBytes > budget.EvictTo; step++)
        {
            if (_memory.Epoch.IsClosed)
            {
                return true;
            }

            ref Shard s = ref _shards[_evictionCursor++ & _shardMask];
            bool evicted = false;
            Guarded(ref s, static (ref Shard s) => s.EvictOldest() ? 1 : 0, ref evicted);
            idle = evicted ? 0 : idle + 1;
            if (idle >= _shards.Length)
            {
                return true; // nothing evictable left anywhere: what remains is tails and indexes
            }
        }

        return budget.SettledBytes <= budget.EvictTo;
    }

    private void RunSweepsUnderGate()
    {
        foreach (ref Shard s in _shards.AsSpan())
        {
            if (s.TakeSweepRequest())
            {
                Guarded(ref s, static (ref Shard s) => s.SweepExpired());
            }
        }
    }

    /// <summary>
    /// The expiry timer's tick: asks every shard whose least sweep time has come for a sweep, on the compactor's
    /// thread, or on this one when the map compacts only on demand. Reads one field per shard when nothing is due.
    /// </summary>
    private void OnExpiryTick()
    {
        if (_memory.Epoch.IsClosed)
        {
            return;
        }

        long now = _clock.Now();
        bool due = false;
        foreach (ref Shard s in _shards.AsSpan())
        {
            if (s.NextSweepAt <= now)
            {
                s.RequestSweep();
                due = true;
            }
        }

        if (due)
        {
            if (_scheduler is not null)
            {
                _scheduler.Request();
            }
            else
            {
                using (_compactionGate.EnterScope())
                {
                    RunSweepsUnderGate();
                }

                _memory.Retired.TryDrain();
            }
        }

        GC.KeepAlive(this); // [E8]
    }

    /// <summary>Runs one shard's background step, recording a failure instead of throwing [C4].</summary>
    private void Guarded(ref Shard shard, ShardStep step)
    {
        bool ignored = false;
        Guarded(ref shard, step, ref ignored);
    }

    private void Guarded(ref Shard shard, ShardStep step, ref bool progressed)
    {
        try
        {
            progressed = step(ref shard) != 0;
        }
        catch (Exception ex)
        {
            // [C4] The shard is consistent (no entry was moved halfway); record and go on with the others.
            Interlocked.Increment(ref _compactionErrors);
            Volatile.Write(ref _lastCompactionError, ex);
        }
    }
}

/// <summary>One background step on a shard, in place (a shard is a struct in the map's array: never copied).</summary>
internal delegate int ShardStep(ref Shard shard);
