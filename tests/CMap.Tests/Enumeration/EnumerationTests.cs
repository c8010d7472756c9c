using System;
using System.Collections.Generic;
using System.Threading;
using CMap.Tests.Stress;
using CMap.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace CMap.Tests.Enumeration;

/// <summary>Enumeration's guarantees; in the stress collection, since one test races writers against enumerations.</summary>
[Collection(StressCollection.Name)]
public sealed class EnumerationTests
{
    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void VisitsEveryEntryOnceWithItsValue(string config)
    {
        using var map = new ByteMap(MapConfigurations.Create(config));
        var expected = new Dictionary<long, byte[]>();
        for (int i = 0; i < 3000; i++)
        {
            byte[] value = MapConfigurations.Bytes(i % 7 == 0 ? 3000 : i % 200, i);
            map.Insert(MapConfigurations.Key(i), value);
            expected[BitConverter.ToInt64(MapConfigurations.Key(i))] = value;
        }

        var seen = new HashSet<long>();
        foreach (ByteMap.Entry e in map)
        {
            long k = BitConverter.ToInt64(e.Key);
            Assert.True(seen.Add(k), "a key was visited twice");
            Assert.True(e.Value.SequenceEqual(expected[k]));
        }

        Assert.Equal(expected.Count, seen.Count);
    }

    [Fact]
    public void AnEmptyMapYieldsNothing()
    {
        using var map = new ByteMap(new CMapConfig { Seed = 1 });
        foreach (ByteMap.Entry e in map)
        {
            Assert.Fail("nothing to visit");
        }
    }

    [Fact]
    public void SkipsExpiredEntries()
    {
        var clock = new FakeTimeProvider();
        using var map = new ByteMap(new CMapConfig { Seed = 1, TimeProvider = clock, BackgroundCompaction = false });
        map.Insert("keep"u8, "1"u8);
        map.Insert("short"u8, "2"u8, CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)));
        map.Insert("slide"u8, "3"u8, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(1)));
        clock.Advance(TimeSpan.FromSeconds(1));
        var keys = new List<string>();
        foreach (ByteMap.Entry e in map)
        {
            keys.Add(System.Text.Encoding.ASCII.GetString(e.Key));
        }

        Assert.Equal(["keep"], keys);
    }

    [Fact]
    public void UnderChurnVisitsEveryStableKeyOnceAndNeverBlocksWriters()
    {
        // Keys 0..999 stay present throughout; writers churn keys 1000.. (insert, overwrite, delete) and compaction
        // and rebuilds run meanwhile. Every stable key must be visited exactly once per enumeration.
        int seed = Environment.TickCount;
        var config = new CMapConfig { ShardCount = 8, Seed = (ulong)seed, ChunkSizes = [1024, 2048, 4096], MaxRetainedChunkBytes = 0 };
        using var map = new ByteMap(config);
        for (int i = 0; i < 1000; i++)
        {
            map.Insert(MapConfigurations.Key(i), BitConverter.GetBytes(i));
        }

        bool stop = false;
        long writes = 0;
        var writer = new Thread(() =>
        {
            var rnd = new Random(seed);
            while (!Volatile.Read(ref stop))
            {
                int k = 1000 + rnd.Next(5000);
                if (rnd.Next(3) == 0)
                {
                    map.Delete(MapConfigurations.Key(k));
                }
                else
                {
                    map.Insert(MapConfigurations.Key(k), MapConfigurations.Bytes(rnd.Next(1, 300), k));
                }

                Interlocked.Increment(ref writes);
            }
        });
        writer.Start();

        int enumerations = 0;
        long writesDuringEnumerations = 0;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(2);
            while (DateTime.UtcNow < deadline || enumerations < 3)
            {
                long before = Interlocked.Read(ref writes);
                var seen = new HashSet<long>();
                foreach (ByteMap.Entry e in map)
                {
                    long k = BitConverter.ToInt64(e.Key);
                    Assert.True(seen.Add(k), $"key {k} visited twice (seed {seed})");
                }

                for (int i = 0; i < 1000; i++)
                {
                    Assert.Contains(BitConverter.ToInt64(MapConfigurations.Key(i)), seen);
                }

                writesDuringEnumerations += Interlocked.Read(ref writes) - before;
                enumerations++;
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            Assert.True(writer.Join(TimeSpan.FromSeconds(30)), "writer did not stop");
        }

        // The race happened: writers made progress while enumerations ran, and the log was churned.
        Assert.True(writesDuringEnumerations > 0, $"no write overlapped an enumeration (seed {seed})");
        Assert.True(map.GetStatistics().ChunksCompacted + map.GetStatistics().IndexRebuilds > 0);
    }

    [Fact]
    public void ConcurrentClearNeverMakesItVisitAKeyTwiceOrFail()
    {
        // A thread clears and refills the map while enumerations run: each enumeration sees every shard once (before
        // or after a clear), so it never yields a key twice, and every value it yields is one that was written.
        int seed = Environment.TickCount;
        using var map = new ByteMap(new CMapConfig { ShardCount = 8, Seed = (ulong)seed, ChunkSizes = [1024, 2048], MaxRetainedChunkBytes = 0 });
        bool stop = false;
        long clears = 0;
        var clearer = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                for (int i = 0; i < 500; i++)
                {
                    map.Insert(MapConfigurations.Key(i), BitConverter.GetBytes(i));
                }

                map.Clear();
                Interlocked.Increment(ref clears);
            }
        });
        clearer.Start();
        int enumerations = 0;
        long clearsDuring = 0;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(1);
            while (DateTime.UtcNow < deadline || enumerations < 3)
            {
                long before = Interlocked.Read(ref clears);
                var seen = new HashSet<long>();
                foreach (ByteMap.Entry e in map)
                {
                    long k = BitConverter.ToInt64(e.Key);
                    Assert.True(seen.Add(k), $"key {k} visited twice (seed {seed})");
                    Assert.Equal(e.Value.ToArray(), BitConverter.GetBytes(BitConverter.ToInt32(e.Value)));
                }

                clearsDuring += Interlocked.Read(ref clears) - before;
                enumerations++;
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            Assert.True(clearer.Join(TimeSpan.FromSeconds(30)), "the clearing thread did not stop");
        }

        Assert.True(clearsDuring > 0, $"no Clear overlapped an enumeration (seed {seed})");
    }

    [Fact]
    public void BetweenMoveNextCallsItHoldsNoRegion_DisposeDoesNotWaitForIt()
    {
        var map = new ByteMap(new CMapConfig { ShardCount = 4, Seed = 1 });
        for (int i = 0; i < 400; i++)
        {
            map.Insert(MapConfigurations.Key(i), "v"u8);
        }

        ByteMap.Enumerator e = map.GetEnumerator();
        try
        {
            Assert.True(e.MoveNext());

            // The enumerator is parked between MoveNext calls: Dispose must not wait for it.
            var dispose = new Thread(map.Dispose);
            dispose.Start();
            Assert.True(dispose.Join(TimeSpan.FromSeconds(30)), "Dispose waited for a parked enumerator");

            // It finishes the shard it copied, then reports the disposal instead of touching freed memory.
            bool threw = false;
            try
            {
                while (e.MoveNext())
                {
                }
            }
            catch (ObjectDisposedException)
            {
                threw = true;
            }

            Assert.True(threw);
        }
        finally
        {
            e.Dispose();
        }
    }

    [Fact]
    public void WhatALongEnumerationKeepsIsOneShardsCopyNeverTheMapsMemory()
    {
        // 16 shards of ~1,000 entries each. While an enumeration is parked mid-way, writers overwrite every key, so
        // the whole log dies and is retired: none of it may be held back by the enumerator.
        using var map = new ByteMap(new CMapConfig { ShardCount = 16, Seed = 2, MaxRetainedChunkBytes = 0 });
        byte[] value = MapConfigurations.Bytes(200, 1);
        for (int i = 0; i < 16_000; i++)
        {
            map.Insert(MapConfigurations.Key(i), value);
        }

        long largestShard = 0;
        for (int s = 0; s < map.ShardCount; s++)
        {
            largestShard = Math.Max(largestShard, map.ShardForTests(s).LiveBytes);
        }

        ByteMap.Enumerator e = map.GetEnumerator();
        try
        {
            Assert.True(e.MoveNext());
            for (int round = 0; round < 3; round++)
            {
                for (int i = 0; i < 16_000; i++)
                {
                    map.Insert(MapConfigurations.Key(i), value);
                }
            }

            map.Compact(); // would wait forever if the parked enumerator held a region
            CMapStatistics stats = map.GetStatistics();
            Assert.Equal(0, stats.PendingRetiredBytes);
            Assert.True(e.BufferedBytes <= (largestShard * 2) + 8192, $"the enumerator holds {e.BufferedBytes:N0} bytes; one shard's copy is about {largestShard:N0}");
            Assert.True(e.BufferedBytes < stats.LiveBytes / 4, "the enumerator holds more than a fraction of the map");
        }
        finally
        {
            e.Dispose();
        }
    }
}
