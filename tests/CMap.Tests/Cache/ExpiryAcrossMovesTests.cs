using System;
using CMap;
using CMap.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using Xunit.Abstractions;
using static CMap.Tests.Support.CacheTestKit;

namespace CMap.Tests.Cache;

/// <summary>
/// An entry's expiry survives everything that moves it without a write: compaction copying it to another chunk, an index
/// rebuild moving its word (and a sliding entry's last access) to another table, and eviction's second chance moving it
/// to the main region. Instants stay exact to the tick, and the idle sweep still finds moved entries.
/// </summary>
public sealed class ExpiryAcrossMovesTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_tick = TimeSpan.FromTicks(1);

    [Theory]
    [InlineData(TinyChunks)]
    [InlineData(BudgetedTinyChunks)]
    [InlineData(OneShard)]
    public void CompactionMovesKeepEveryInstantExact(string config)
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(config, time, scanInterval: TimeSpan.FromDays(1)));
        DateTimeOffset t0 = time.GetUtcNow();
        const int n = 200;
        for (int i = 0; i < n; i++)
        {
            CMapEntryOptions o = i % 2 == 0 ? CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(5)) : CMapEntryOptions.Sliding(TimeSpan.FromSeconds(5));
            map.Insert(Key(i), Value(60, i), o);
            map.Insert(Key(100_000 + i), Value(60, i)); // filler, overwritten below
        }

        for (int i = 0; i < n; i++)
        {
            map.Insert(Key(100_000 + i), Value(61, i));
        }

        // The sliding entries' last access moves to 2 s; then their chunks are compacted.
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(2));
        for (int i = 1; i < n; i += 2)
        {
            Assert.NotNull(map.Get(Key(i)));
        }

        long movedBefore = map.GetStatistics().CompactionBytesMoved;
        map.Compact();
        CMapStatistics compacted = map.GetStatistics();
        output.WriteLine($"{config}: Compact moved {compacted.CompactionBytesMoved - movedBefore:N0} B; {Counters(compacted)}");
        Assert.True(compacted.CompactionBytesMoved > movedBefore, "Compact moved nothing: the test did not move the expiring entries");

        time.SetUtcNow(t0 + TimeSpan.FromSeconds(5) - s_tick);
        for (int i = 0; i < n; i += 2)
        {
            Assert.True(map.ContainsKey(Key(i)), $"absolute key {i} gone one tick before its instant after a compaction");
        }

        time.SetUtcNow(t0 + TimeSpan.FromSeconds(5));
        for (int i = 0; i < n; i += 2)
        {
            Assert.False(map.ContainsKey(Key(i)), $"absolute key {i} present at its instant after a compaction");
        }

        // Sliding: half are checked one tick before 7 s (which extends them), the other half at 7 s.
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(7) - s_tick);
        for (int i = 1; i < n; i += 4)
        {
            Assert.True(map.ContainsKey(Key(i)), $"sliding key {i} gone one tick before its window ended, after a compaction");
        }

        time.SetUtcNow(t0 + TimeSpan.FromSeconds(7));
        for (int i = 3; i < n; i += 4)
        {
            Assert.False(map.ContainsKey(Key(i)), $"sliding key {i} present when its window ended, after a compaction");
        }

        DisposeAndAssertNoNativeBytes(map, config);
    }

    [Theory]
    [InlineData(TinyChunks)]
    [InlineData(BudgetedTinyChunks)]
    public void TheIdleSweepFindsEntriesThatCompactionMoved(string config)
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(config, time));
        const int n = 300;
        for (int i = 0; i < n; i++)
        {
            map.Insert(Key(i), Value(60, i), i % 2 == 0 ? CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(5)) : CMapEntryOptions.Sliding(TimeSpan.FromSeconds(5)));
            map.Insert(Key(100_000 + i), Value(60, i));
        }

        for (int i = 0; i < n; i++)
        {
            map.Insert(Key(100_000 + i), Value(61, i));
        }

        map.Compact();
        Assert.True(map.GetStatistics().CompactionBytesMoved > 0);
        time.Advance(TimeSpan.FromSeconds(7)); // no reads: only the timer's sweeps
        CMapStatistics s = map.GetStatistics();
        output.WriteLine($"{config}: {Counters(s)}");
        Assert.Equal(n, s.Count);
        Assert.Equal(n, s.Expirations);
        DisposeAndAssertNoNativeBytes(map, config);
    }

    /// <summary>Index growth (and the shrink Compact does) rebuilds the table; a sliding entry's recorded access moves with it.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void IndexRebuildsKeepSlidingAccessTimesAndInstants(int shards)
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(new CMapConfig { ShardCount = shards, Seed = 12, TimeProvider = time, BackgroundCompaction = false, ExpirationScanInterval = TimeSpan.FromDays(1) });
        DateTimeOffset t0 = time.GetUtcNow();
        const int n = 64;
        for (int i = 0; i < n; i++)
        {
            map.Insert(Key(i), Value(30, i), CMapEntryOptions.Sliding(TimeSpan.FromSeconds(10)));
        }

        time.SetUtcNow(t0 + TimeSpan.FromSeconds(3));
        for (int i = 0; i < n; i++)
        {
            Assert.True(map.Refresh(Key(i)));
        }

        long rebuilds = map.GetStatistics().IndexRebuilds;
        for (int i = 0; i < 50_000; i++)
        {
            map.Insert(Key(1_000_000 + i), Value(8, i));
        }

        for (int i = 0; i < 50_000; i++)
        {
            map.Delete(Key(1_000_000 + i));
        }

        map.Compact();
        CMapStatistics s = map.GetStatistics();
        output.WriteLine($"{shards} shards: {s.IndexRebuilds - rebuilds} rebuilds; {Counters(s)}");
        Assert.True(s.IndexRebuilds - rebuilds >= 4 * shards, "the index was hardly rebuilt");

        time.SetUtcNow(t0 + TimeSpan.FromSeconds(13) - s_tick);
        for (int i = 0; i < n; i += 2)
        {
            Assert.True(map.ContainsKey(Key(i)), $"sliding key {i} gone one tick before its window (from the 3 s access) ended, after index rebuilds");
        }

        time.SetUtcNow(t0 + TimeSpan.FromSeconds(13));
        for (int i = 1; i < n; i += 2)
        {
            Assert.False(map.ContainsKey(Key(i)), $"sliding key {i} present when its window ended, after index rebuilds");
        }

        DisposeAndAssertNoNativeBytes(map, $"{shards} shards");
    }

    /// <summary>
    /// Hot expiring entries given a second chance by eviction (moved to the main region) keep their instants; an expiring
    /// entry eviction finds expired is counted as an expiration, not an eviction.
    /// </summary>
    [Fact]
    public void EvictionsSecondChanceKeepsInstantsAndCountsExpiredEntriesAsExpirations()
    {
        FakeTimeProvider time = NewClock();
        var scheduler = new ManualCompactionScheduler();
        var map = new ByteMap(new CMapConfig
        {
            ShardCount = 2,
            Seed = 13,
            TimeProvider = time,
            MaxBytes = 1L << 20,
            ChunkSizes = [4096, 16384],
            ExpirationScanInterval = TimeSpan.FromDays(1),
            CompactionSchedulerFactory = () => scheduler,
        });
        DateTimeOffset t0 = time.GetUtcNow();
        const int hot = 200, doomed = 200;
        for (int i = 0; i < hot; i++)
        {
            map.Insert(Key(i), Value(100, i), CMapEntryOptions.ExpireAfter(TimeSpan.FromMinutes(10)));
        }

        for (int i = 0; i < doomed; i++)
        {
            map.Insert(Key(10_000 + i), Value(100, i), CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)));
        }

        time.SetUtcNow(t0 + TimeSpan.FromSeconds(2)); // the doomed ones have expired; no sweep runs (a day's interval)
        long scan = 0;
        for (int round = 0; round < 40; round++)
        {
            for (int b = 0; b < 1000; b++)
            {
                map.Insert(Key(1_000_000 + (int)scan++), Value(100, b));
                scheduler.RunPending();
            }

            for (int i = 0; i < hot; i++)
            {
                Assert.True(map.ContainsKey(Key(i)), $"hot key {i} evicted in round {round} although read every round");
            }
        }

        CMapStatistics s = map.GetStatistics();
        output.WriteLine($"{scan} scan keys: {Counters(s)}");
        Assert.True(s.Evictions > 0);
        Assert.True(s.Expirations >= doomed, $"the {doomed} expired entries were evicted, not counted as expired: {Counters(s)}");
        Assert.Equal(hot + doomed + scan, s.Count + s.Evictions + s.Expirations);

        time.SetUtcNow(t0 + TimeSpan.FromMinutes(10) - s_tick);
        for (int i = 0; i < hot; i++)
        {
            Assert.True(map.ContainsKey(Key(i)), $"hot key {i} gone one tick before its instant after second chances");
        }

        time.SetUtcNow(t0 + TimeSpan.FromMinutes(10));
        for (int i = 0; i < hot; i++)
        {
            Assert.False(map.ContainsKey(Key(i)), $"hot key {i} present at its instant after second chances");
        }

        DisposeAndAssertNoNativeBytes(map, "second chance");
    }
}
