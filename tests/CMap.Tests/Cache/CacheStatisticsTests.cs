using System;
using System.Buffers;
using System.Threading;
using CMap;
using CMap.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using Xunit.Abstractions;
using static CMap.Tests.Support.CacheTestKit;

namespace CMap.Tests.Cache;

/// <summary>
/// CMapStatistics' cache counters: Hits and Misses ("exact": every read API, Refresh and GetOrInsert's lookup; an
/// expired entry is a miss), Removals (Delete), Expirations and Evictions, checked step by step against a model.
/// </summary>
public sealed class CacheStatisticsTests(ITestOutputHelper output)
{
    private sealed class Expected
    {
        public long Hits;
        public long Misses;
        public long Removals;
        public long Expirations;
        public long Evictions { get; } // nothing here is evicted: the budgets are far above the data
        public long Count;
    }

    private static void Check(ByteMap map, Expected e, string step)
    {
        CMapStatistics s = map.GetStatistics();
        string got = Counters(s);
        Assert.True(s.Hits == e.Hits, $"after {step}: hits {s.Hits}, expected {e.Hits} ({got})");
        Assert.True(s.Misses == e.Misses, $"after {step}: misses {s.Misses}, expected {e.Misses} ({got})");
        Assert.True(s.Removals == e.Removals, $"after {step}: removals {s.Removals}, expected {e.Removals} ({got})");
        Assert.True(s.Expirations == e.Expirations, $"after {step}: expirations {s.Expirations}, expected {e.Expirations} ({got})");
        Assert.True(s.Evictions == e.Evictions, $"after {step}: evictions {s.Evictions}, expected {e.Evictions} ({got})");
        Assert.True(s.Count == e.Count, $"after {step}: count {s.Count}, expected {e.Count} ({got})");
    }

    [Theory]
    [MemberData(nameof(ExpiryConfigs), MemberType = typeof(CacheTestKit))]
    public void HitsMissesRemovalsAndExpirationsAreExactInASingleThreadedSequence(string config)
    {
        FakeTimeProvider time = NewClock();

        // No sweep during the sequence: only the reads and writes below change the counters.
        var map = new ByteMap(Create(config, time, scanInterval: TimeSpan.FromDays(1)));
        var e = new Expected();
        byte[] v = Value(100, 1);
        Check(map, e, "construction");

        map.Insert("a"u8, v);
        map.Insert("b"u8, v);
        map.TryAdd("b"u8, v);
        e.Count = 2;
        Check(map, e, "writes (no read counts)");

        map.Get("a"u8); e.Hits++;
        map.Get("zz"u8); e.Misses++;
        Check(map, e, "Get hit and miss");

        var buffer = new byte[200];
        map.TryGet("a"u8, buffer, out _); e.Hits++;
        map.TryGet("zz"u8, buffer, out _); e.Misses++;
        map.TryGet("a"u8, new byte[3], out _); e.Hits++; // found, but too long for the buffer: still a hit
        Check(map, e, "TryGet(span) hit, miss, and hit into a short buffer");

        map.TryGet("a"u8, new ArrayBufferWriter<byte>()); e.Hits++;
        map.TryGet("zz"u8, new ArrayBufferWriter<byte>()); e.Misses++;
        Check(map, e, "TryGet(IBufferWriter) hit and miss");

        map.TryRead("a"u8, 0, (_, _) => { }); e.Hits++;
        map.TryRead("zz"u8, 0, (_, _) => { }); e.Misses++;
        Check(map, e, "TryRead hit and miss");

        map.ContainsKey("a"u8); e.Hits++;
        map.ContainsKey("zz"u8); e.Misses++;
        Check(map, e, "ContainsKey hit and miss");

        map.Refresh("a"u8); e.Hits++;
        map.Refresh("zz"u8); e.Misses++;
        Check(map, e, "Refresh hit and miss");

        map.GetOrInsert("a"u8, v, out _); e.Hits++;
        map.GetOrInsert("c"u8, v, out _); e.Misses++; e.Count++;
        map.GetOrInsert("d"u8, v, CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)), out _); e.Misses++; e.Count++;
        Check(map, e, "GetOrInsert hit, miss (adds) and miss with options (adds)");

        // Nested: a read inside a read callback counts too.
        map.TryRead("a"u8, map, (_, m) => m.Get("b"u8)); e.Hits += 2;
        Check(map, e, "a Get inside a TryRead callback");

        Assert.True(map.Delete("c"u8)); e.Removals++; e.Count--;
        Assert.False(map.Delete("zz"u8));
        Check(map, e, "Delete of a present and an absent key");

        // Expired entries: reads are misses and remove nothing; writes that find them count an expiration.
        foreach (string k in new[] { "x1", "x2", "x3", "x4", "x5", "x6" })
        {
            map.Insert(System.Text.Encoding.ASCII.GetBytes(k), v, CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)));
            e.Count++;
        }

        Check(map, e, "six expiring inserts");
        time.Advance(TimeSpan.FromSeconds(1)); // "d" expires too
        map.Get("x1"u8); e.Misses++;
        map.ContainsKey("x1"u8); e.Misses++;
        map.Refresh("x1"u8); e.Misses++;
        map.TryRead("x1"u8, 0, (_, _) => { }); e.Misses++;
        map.TryGet("x1"u8, buffer, out _); e.Misses++;
        Check(map, e, "reads of an expired entry");

        Assert.False(map.Delete("x1"u8)); e.Expirations++; e.Count--;
        Check(map, e, "Delete of an expired entry (an expiration, not a removal)");
        Assert.True(map.Insert("x2"u8, v)); e.Expirations++;
        Check(map, e, "Insert over an expired entry");
        Assert.True(map.TryAdd("x3"u8, v)); e.Expirations++;
        Check(map, e, "TryAdd over an expired entry");
        map.GetOrInsert("x4"u8, v, out bool inserted); e.Misses++; e.Expirations++;
        Assert.True(inserted);
        Check(map, e, "GetOrInsert over an expired entry (a miss, then an expiration)");

        // The rest ("x5", "x6", "d") go with the sweep, each counted once.
        time.Advance(TimeSpan.FromDays(1));
        e.Expirations += 3; e.Count -= 3;
        Check(map, e, "the sweep");
        output.WriteLine($"{config}: {Counters(map.GetStatistics())}");
        DisposeAndAssertNoNativeBytes(map, config);
    }

    /// <summary>
    /// Each thread counts in its own slot; the sum is exact once the threads are done. Two waves of short-lived threads
    /// (the second may reuse the first's thread numbers and slots) must add up too.
    /// </summary>
    [Fact]
    public void HitsAndMissesFromManyThreadsAddUpExactly()
    {
        var map = new ByteMap(new CMapConfig { ShardCount = 8, Seed = 5, BackgroundCompaction = false, MaxBytes = 64L << 20 });
        for (int i = 0; i < 100; i++)
        {
            map.Insert(Key(i), Value(20, i));
        }

        long expectedHits = 0, expectedMisses = 0;
        for (int wave = 0; wave < 2; wave++)
        {
            var threads = new Thread[6];
            for (int t = 0; t < threads.Length; t++)
            {
                int id = t + (wave * 10);
                threads[t] = new Thread(() =>
                {
                    for (int i = 0; i < 5000; i++)
                    {
                        map.ContainsKey(Key((i + id) % 200)); // keys 0..99 present, 100..199 absent
                    }
                });
            }

            foreach (Thread t in threads)
            {
                t.Start();
            }

            foreach (Thread t in threads)
            {
                Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a reader thread did not finish");
            }

            expectedHits += threads.Length * 2500;
            expectedMisses += threads.Length * 2500;
            CMapStatistics s = map.GetStatistics();
            output.WriteLine($"after wave {wave}: {Counters(s)}");
            Assert.Equal(expectedHits, s.Hits);
            Assert.Equal(expectedMisses, s.Misses);
        }

        DisposeAndAssertNoNativeBytes(map, "threads");
    }

    /// <summary>
    /// With a budget and a mix of expiring, deleted and plain one-time keys, every key written is accounted for exactly
    /// once: Count + Evictions + Expirations + Removals equals the keys written, after every step of a deterministic run
    /// (the compactor's pass runs after every write).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void EveryKeyWrittenIsCountedOnceAsLiveEvictedExpiredOrRemoved(int shards)
    {
        int seed = 5900 + shards;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        FakeTimeProvider time = NewClock();
        var scheduler = new ManualCompactionScheduler();
        var map = new ByteMap(new CMapConfig
        {
            ShardCount = shards,
            Seed = (ulong)seed,
            MaxBytes = 1L << 20,
            ChunkSizes = [4096, 16384],
            TimeProvider = time,
            ExpirationScanInterval = TimeSpan.FromMilliseconds(50),
            CompactionSchedulerFactory = () => scheduler,
        });
        long written = 0;
        for (int i = 0; i < 40_000; i++)
        {
            byte[] key = BitConverter.GetBytes((long)i);
            int kind = rng.Next(10);
            if (kind < 3)
            {
                map.Insert(key, Value(rng.Next(10, 300), i), CMapEntryOptions.ExpireAfter(TimeSpan.FromMilliseconds(rng.Next(1, 200))));
            }
            else
            {
                map.Insert(key, Value(rng.Next(10, 300), i));
            }

            written++;
            if (kind == 9)
            {
                map.Delete(BitConverter.GetBytes((long)rng.Next(i + 1)));
            }

            if (rng.Next(4) == 0)
            {
                time.Advance(TimeSpan.FromMilliseconds(1));
            }

            scheduler.RunPending();
            if (i % 97 == 0)
            {
                CMapStatistics s = map.GetStatistics();
                Assert.True(s.Count + s.Evictions + s.Expirations + s.Removals == written, $"step {i}: {written} keys written but count + evictions + expirations + removals = {s.Count + s.Evictions + s.Expirations + s.Removals} ({Counters(s)})");
            }
        }

        CMapStatistics end = map.GetStatistics();
        output.WriteLine($"{written} keys: {Counters(end)}");
        Assert.Equal(written, end.Count + end.Evictions + end.Expirations + end.Removals);
        Assert.True(end.Evictions > 0 && end.Expirations > 0 && end.Removals > 0, $"every way of leaving must be exercised: {Counters(end)}");
        DisposeAndAssertNoNativeBytes(map, "accounting");
    }
}
