using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap;
using CMap.Buffer;
using CMap.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using Xunit.Abstractions;
using static CMap.Tests.Support.CacheTestKit;

namespace CMap.Tests.Cache;

/// <summary>
/// Expired entries leave an idle map without any read (CMapConfig.ExpirationScanInterval: the timer on the map's
/// TimeProvider), and an entry that expires while a zero-copy read of it runs stays intact for that read.
/// </summary>
public sealed class ExpirySweepTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    public static TheoryData<string, int, bool> IdleCases
    {
        get
        {
            var data = new TheoryData<string, int, bool>();
            foreach (string c in new[] { OneShard, TinyChunks, ManyShards, Budgeted, BudgetedTinyChunks })
            {
                foreach (int n in new[] { 16, 700, 100_000 })
                {
                    data.Add(c, n, false);
                    data.Add(c, n, true);
                }
            }

            return data;
        }
    }

    /// <summary>
    /// Entries expire on an idle map: nothing reads them. Without a compactor the timer's tick sweeps on the thread that
    /// advances the fake clock; with a (manual) scheduler the tick asks for a pass, and the pass removes them. Count and
    /// Expirations change exactly, the entries that never expire stay, and native memory drops.
    /// </summary>
    [Theory]
    [MemberData(nameof(IdleCases))]
    public void ExpiredEntriesLeaveAnIdleMapWithinAScanInterval(string config, int valueLength, bool manualScheduler)
    {
        int seed = 5400 + valueLength + config.Length;
        output.WriteLine($"seed {seed}, {config}, {valueLength} B, manual scheduler {manualScheduler}");
        var rng = new Random(seed);
        FakeTimeProvider time = NewClock();
        var scheduler = manualScheduler ? new ManualCompactionScheduler() : null;
        var map = new ByteMap(Create(config, time, (ulong)seed, null, scheduler is null ? null : () => scheduler));
        int expiring = valueLength >= 100_000 ? 40 : 2000;
        const int plain = 300;
        long expiringLive = 0, plainLive = 0;
        for (int i = 0; i < expiring; i++)
        {
            byte[] v = Value(valueLength, i);
            CMapEntryOptions options = i % 2 == 0 ? CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(5)) : CMapEntryOptions.Sliding(TimeSpan.FromSeconds(5));
            Assert.True(map.Insert(Key(i), v, options));
            expiringLive += PlainEntrySize(Key(i).Length, v.Length) + (i % 2 == 0 ? 8 : 16);
        }

        for (int i = expiring; i < expiring + plain; i++)
        {
            byte[] v = Value(rng.Next(1, 200), i);
            Assert.True(map.Insert(Key(i), v));
            plainLive += PlainEntrySize(Key(i).Length, v.Length);
        }

        CMapStatistics loaded = map.GetStatistics();
        Assert.Equal(expiringLive + plainLive, loaded.LiveBytes);

        time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        scheduler?.RunPending();
        CMapStatistics before = map.GetStatistics();
        Assert.Equal(expiring + plain, before.Count);
        Assert.Equal(0, before.Expirations);

        time.Advance(TimeSpan.FromTicks(1) + TimeSpan.FromSeconds(1));
        if (scheduler is not null)
        {
            CMapStatistics requested = map.GetStatistics();
            Assert.True(requested.Count == expiring + plain, $"without a pass nothing is removed: {Counters(requested)}");
            Assert.True(scheduler.RunPending(), "the expiry tick did not ask the scheduler for a pass");
        }

        CMapStatistics swept = map.GetStatistics();
        long pooledAfterSweep = map.BlockPoolForTests.RetainedBytes;
        map.Compact();
        Assert.Equal(0, map.BlockPoolForTests.RetainedBytes);
        CMapStatistics compacted = map.GetStatistics();
        output.WriteLine($"loaded:    {Counters(loaded)}\nswept:     {Counters(swept)}\ncompacted: {Counters(compacted)}");
        Assert.Equal(plain, swept.Count);
        Assert.Equal(expiring, swept.Expirations);
        Assert.Equal(plainLive, swept.LiveBytes);
        Assert.Equal(0, swept.Hits + swept.Misses);

        // What the plain entries alone hold after Compact on the same settings (with many shards, mostly their tails).
        var reference = new ByteMap(Create(config, NewClock(), (ulong)seed, null, null));
        var rng2 = new Random(seed);
        for (int i = expiring; i < expiring + plain; i++)
        {
            reference.Insert(Key(i), Value(rng2.Next(1, 200), i));
        }

        reference.Compact();
        long referenceNative = reference.GetStatistics().NativeBytes;
        DisposeAndAssertNoNativeBytes(reference, "reference");
        output.WriteLine($"native: before the sweep {before.NativeBytes:N0}, after {swept.NativeBytes:N0}, after Compact {compacted.NativeBytes:N0}; the plain entries alone, compacted: {referenceNative:N0}");
        Assert.True(compacted.NativeBytes - referenceNative <= expiringLive / 2, $"after the sweep and Compact the map holds {compacted.NativeBytes:N0} native bytes, {compacted.NativeBytes - referenceNative:N0} more than the plain entries alone: over half of the {expiringLive:N0} expired bytes did not come back");
        if (valueLength >= 100_000 || config == TinyChunks || config == BudgetedTinyChunks)
        {
            // A block is retired as soon as its entry dies, and after its grace period goes to the block pool (up to
            // MaxRetainedChunkBytes, for the next large value) or back to the OS; 1 KiB chunks past a pool of 8 KiB go
            // back to the OS: the sweep alone frees the memory, apart from what the block pool keeps for reuse.
            Assert.True(swept.NativeBytes - pooledAfterSweep <= before.NativeBytes - (expiringLive / 2), $"native bytes {before.NativeBytes:N0} before the sweep, {swept.NativeBytes:N0} after it ({pooledAfterSweep:N0} of them free blocks kept for reuse): the sweep freed less than half of the {expiringLive:N0} expired bytes");
            Assert.True(pooledAfterSweep <= new CMapConfig().MaxRetainedChunkBytes, $"the block pool keeps {pooledAfterSweep:N0} bytes, over its limit");
        }

        for (int i = expiring; i < expiring + plain; i += 37)
        {
            Assert.True(map.ContainsKey(Key(i)), $"plain key {i} was removed by the sweep");
        }

        DisposeAndAssertNoNativeBytes(map, config);
    }

    public static TheoryData<int, bool> ReadCases
    {
        get
        {
            var data = new TheoryData<int, bool>();
            foreach (int n in new[] { 16, 300, 700, 100_000 })
            {
                data.Add(n, true);
                data.Add(n, false);
            }

            return data;
        }
    }

    /// <summary>
    /// A TryRead callback is running on an entry when the clock passes its instant and the sweep removes it (its chunk,
    /// full of entries that expire with it, is retired; a block is retired at once). Writers churn meanwhile, so the
    /// retire list tries to drain. Freed chunks are poisoned: the callback must still see exactly the bytes it started
    /// with; a read inside the callback, and every read after it, must see the key gone.
    /// </summary>
    [Theory]
    [MemberData(nameof(ReadCases))]
    public void AnEntryThatExpiresDuringAZeroCopyReadStaysIntactForThatRead(int valueLength, bool sweepOnTheReadersThread)
    {
        int seed = 5500 + valueLength + (sweepOnTheReadersThread ? 1 : 0);
        output.WriteLine($"seed {seed}, {valueLength} B, sweep on the reader's thread {sweepOnTheReadersThread}");
        FakeTimeProvider time = NewClock();
        var scheduler = sweepOnTheReadersThread ? null : new ManualCompactionScheduler();
        var map = new ByteMap(new CMapConfig
        {
            ShardCount = 2,
            Seed = (ulong)seed,
            TimeProvider = time,
            ChunkSizes = [1024, 4096],
            MaxRetainedChunkBytes = 64 << 10,
            PoisonFreedChunks = true,
            BackgroundCompaction = false,
            CompactionSchedulerFactory = scheduler is null ? null : () => scheduler,
        });
        NativeArena arena = map.ArenaForTests;
        byte[] key = "the-key"u8.ToArray();
        byte[] value = Value(valueLength, seed);
        value.AsSpan().Replace(StressValue.PoisonByte, (byte)0x11);
        map.Insert(key, value, CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)));

        // Fillers expiring at the same instant share its chunk; plain entries after them move the tails on, so the chunk is
        // sealed and the sweep retires it.
        for (int i = 0; i < 60; i++)
        {
            map.Insert(Key(i), Value(valueLength < 700 ? valueLength : 40, i), CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)));
        }

        for (int i = 1000; i < 1200; i++)
        {
            map.Insert(Key(i), Value(100, i));
        }

        long expirationsBefore = map.GetStatistics().Expirations;
        bool sawIntactBefore = false, sawIntactAfter = false, goneInside = false;
        long heldBack = 0;
        Exception? helperError = null;
        using var inside = new ManualResetEventSlim();
        using var swept = new ManualResetEventSlim();
        Thread? helper = null;
        if (!sweepOnTheReadersThread)
        {
            helper = new Thread(() =>
            {
                try
                {
                    Assert.True(inside.Wait(s_wait), "the reader never entered its callback");
                    time.Advance(TimeSpan.FromSeconds(2));
                    Assert.True(scheduler!.RunPending(), "the expiry tick asked for no pass");
                    goneInside = map.Get(key) is null && !map.ContainsKey(key);
                    Churn(map, 2000);
                    heldBack = map.GetStatistics().PendingRetiredBytes;
                }
#pragma warning disable CA1031 // reported by the test thread
                catch (Exception e)
#pragma warning restore CA1031
                {
                    helperError = e;
                }
                finally
                {
                    swept.Set();
                }
            }) { IsBackground = true, Name = "sweeper" };
            helper.Start();
        }

        bool found = map.TryRead(key, value, (span, expected) =>
        {
            sawIntactBefore = span.SequenceEqual(expected);
            if (sweepOnTheReadersThread)
            {
                time.Advance(TimeSpan.FromSeconds(2)); // the tick sweeps right here, inside the read
                goneInside = map.Get(key) is null && !map.ContainsKey(key);
                Churn(map, 2000);
                heldBack = map.GetStatistics().PendingRetiredBytes;
            }
            else
            {
                inside.Set();
                Assert.True(swept.Wait(s_wait), "the sweeper thread did not finish");
            }

            sawIntactAfter = span.SequenceEqual(expected) && StressValue.LongestRun(span, StressValue.PoisonByte) < StressValue.PoisonRun;
        });
        Assert.True(helper is null || helper.Join(s_wait), "the sweeper thread did not end");
        Assert.Null(helperError);
        CMapStatistics after = map.GetStatistics();
        output.WriteLine($"found {found}, intact before {sawIntactBefore}, after {sawIntactAfter}, gone inside {goneInside}, held back while reading {heldBack:N0} B; {Counters(after)}");
        Assert.True(found, "TryRead did not find the key before it expired");
        Assert.True(sawIntactBefore, "the callback saw other bytes from the start");
        Assert.True(goneInside, "once the clock passed the instant, a read inside the callback still found the key");
        Assert.True(sawIntactAfter, "the entry's bytes changed under the callback after the sweep removed it (freed and reused?)");
        Assert.True(heldBack > 0, "nothing retired was held back by the reader: the sweep retired nothing, so the race was not exercised");
        AssertAbsent(map, key, "after the callback");
        Assert.True(after.Expirations >= expirationsBefore + 61, $"expected the key and its 60 fillers to be counted as expired: {Counters(after)}");
        map.Compact();
        Assert.Equal(0, map.GetStatistics().PendingRetiredBytes);
        map.Dispose();
        Assert.Equal(0, arena.OutstandingBytes);
    }

    /// <summary>
    /// The expiry timer lives on the TimeProvider (a FakeTimeProvider holds its timers strongly), but must not keep the map
    /// alive: an abandoned map with a running timer is still finalized and frees every native byte; ticks after that (the
    /// clock keeps moving) touch nothing.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnAbandonedMapWithARunningExpiryTimerIsStillFinalized(bool backgroundCompaction)
    {
        FakeTimeProvider time = NewClock();
        List<NativeArena> arenas = [];
        for (int i = 0; i < 3; i++)
        {
            arenas.Add(CreateExpiringAndAbandon(time, i, backgroundCompaction));
        }

        for (int attempt = 0; attempt < 20 && arenas.Exists(a => a.OutstandingBytes != 0); attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            time.Advance(TimeSpan.FromSeconds(1)); // ticks of the abandoned maps' timers
        }

        foreach (NativeArena a in arenas)
        {
            Assert.True(a.OutstandingBytes == 0, $"an abandoned map with an armed expiry timer still holds {a.OutstandingBytes:N0} native bytes after 20 collections: the timer keeps it alive, or its finalizer freed nothing");
        }

        time.Advance(TimeSpan.FromMinutes(1));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NativeArena CreateExpiringAndAbandon(FakeTimeProvider time, int seed, bool backgroundCompaction)
    {
        var map = new ByteMap(new CMapConfig { ShardCount = 4, Seed = (ulong)seed, TimeProvider = time, BackgroundCompaction = backgroundCompaction, ChunkSizes = [1024, 4096] });
        for (int i = 0; i < 500; i++)
        {
            map.Insert(Key(i), Value(50, i), CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(2 + (i % 5))));
        }

        time.Advance(TimeSpan.FromSeconds(1)); // the timer is armed and has ticked
        Assert.True(map.ArenaForTests.OutstandingBytes > 0);
        return map.ArenaForTests;
    }

    [Fact]
    public void AdvancingTheClockAfterDisposeTouchesNothing()
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(TinyChunks, time));
        for (int i = 0; i < 200; i++)
        {
            map.Insert(Key(i), Value(50, i), CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)));
        }

        time.Advance(TimeSpan.FromMilliseconds(500));
        DisposeAndAssertNoNativeBytes(map, "disposed with an armed timer");
        time.Advance(TimeSpan.FromSeconds(10)); // the timer must be stopped: a tick would sweep freed shards
        Assert.Throws<ObjectDisposedException>(() => map.Count);
    }

    private static void Churn(ByteMap map, int writes)
    {
        for (int i = 0; i < writes; i++)
        {
            byte[] k = Key(5000 + (i % 97));
            if (i % 3 == 2)
            {
                map.Delete(k);
            }
            else
            {
                map.Insert(k, Value(200 + (i % 300), i));
            }
        }
    }
}
