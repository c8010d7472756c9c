using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using CMap;
using CMap.Buffer;
using CMap.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests;

/// <summary>
/// Every native byte comes back: after Dispose, from the finalizer, and after failed writes. A failed write
/// (out of memory, or a length over its limit) changes nothing (docs/concurrency.md I7).
/// </summary>
public sealed class NativeLeakTests(ITestOutputHelper output)
{
    public static TheoryData<string> LeakConfigs => new() { "four-shards", "tiny-chunks-no-pool", "tiny-chunks-poison", "mask-7", "one-shard-small-pool" };

    private static CMapConfig LeakConfig(string name, int seed) => name switch
    {
        "four-shards" => new CMapConfig { ShardCount = 4, Seed = (ulong)seed },
        "tiny-chunks-no-pool" => new CMapConfig { ShardCount = 8, Seed = (ulong)seed, ChunkSizes = [1024, 2048, 4096], MaxRetainedChunkBytes = 0 },
        "tiny-chunks-poison" => new CMapConfig { ShardCount = 2, Seed = (ulong)seed, ChunkSizes = [1024, 8192], MaxRetainedChunkBytes = 64 << 10, PoisonFreedChunks = true },
        "mask-7" => new CMapConfig { ShardCount = 2, Seed = (ulong)seed, HashMask = 0x7, ChunkSizes = [1024, 4096] },
        "one-shard-small-pool" => new CMapConfig { ShardCount = 1, Seed = (ulong)seed, ChunkSizes = [4096, 16384], MaxRetainedChunkBytes = 16384 },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    [Theory]
    [MemberData(nameof(LeakConfigs))]
    public void CreateFillOverwriteDeleteDisposeCyclesLeaveNoNativeBytes(string config)
    {
        int baseSeed = ByteMapModelTests.BaseSeed;
        long peak = 0;
        for (int cycle = 0; cycle < 30; cycle++)
        {
            int seed = unchecked(baseSeed + (cycle * 31) + config.Length);
            var rng = new Random(seed);
            var map = new ByteMap(LeakConfig(config, seed));
            NativeArena arena = map.ArenaForTests;
            int keys = cycle % 7 == 0 ? 0 : rng.Next(1, 1500);
            for (int i = 0; i < keys; i++)
            {
                map.Insert(Key(i), Value(rng, i));
            }

            for (int i = 0; i < keys; i += 1 + rng.Next(3))
            {
                map.Insert(Key(i), Value(rng, i));
            }

            for (int i = 0; i < keys; i += 1 + rng.Next(4))
            {
                map.Delete(Key(i));
            }

            if (cycle % 5 == 1)
            {
                map.Clear();
                map.Insert("after-clear"u8, new byte[rng.Next(200_000)]);
            }

            if (cycle % 3 == 2)
            {
                // Large values in and out: oversize blocks retired while still pending at Dispose.
                for (int i = 0; i < 5; i++)
                {
                    map.Insert("big"u8, new byte[50_000 + rng.Next(300_000)]);
                }
            }

            CMapStatistics stats = map.GetStatistics();
            Assert.Equal(arena.OutstandingBytes, stats.NativeBytes);
            Assert.True(stats.NativeBytes > 0, "a live map holds at least its index tables");
            peak = Math.Max(peak, stats.NativeBytes);

            map.Dispose();
            Assert.True(
                arena.OutstandingBytes == 0,
                $"config {config} seed {seed} cycle {cycle}: {arena.OutstandingBytes} native bytes outstanding after Dispose ({arena.Allocations} allocations, {arena.Frees} frees)");
            Assert.Equal(arena.Allocations, arena.Frees);
            map.Dispose(); // idempotent
            Assert.Equal(0, arena.OutstandingBytes);
        }

        output.WriteLine($"config {config}: 30 cycles, peak native bytes {peak}");
    }

    /// <summary>
    /// docs/design.md: "A map that is never disposed frees its memory from its finalizer." Checked with background
    /// compaction off and with the default configuration (background compaction on, one compactor thread per map).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AMapThatIsNeverDisposedIsFreedByItsFinalizer(bool backgroundCompaction)
    {
        List<NativeArena> arenas = [];
        for (int i = 0; i < 3; i++)
        {
            arenas.Add(CreateFillAndAbandon(i, backgroundCompaction));
        }

        for (int attempt = 0; attempt < 20 && arenas.Any(a => a.OutstandingBytes != 0); attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }

        foreach (NativeArena a in arenas)
        {
            Assert.True(
                a.OutstandingBytes == 0,
                $"an abandoned map (BackgroundCompaction={backgroundCompaction}) still holds {a.OutstandingBytes} native bytes after 20 full collections: its finalizer never ran or freed nothing");
        }
    }

    /// <summary>A constructor that throws leaves null fields; the finalizer must never see them (it would crash the process).</summary>
    [Fact]
    public void MapsWhoseConstructorThrewDoNotCrashTheFinalizerThread()
    {
        for (int i = 0; i < 50; i++)
        {
            TryCreateInvalid(i);
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    [Fact]
    public void OutOfMemoryOnANewChunkLeavesTheOldValueAndCounters()
    {
        // One 1 KiB class and no pool: every chunk the log needs is a fresh native allocation.
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 4, ChunkSizes = [1024], MaxRetainedChunkBytes = 0 });
        var model = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        var rng = new Random(12);
        for (int i = 0; i < 5; i++)
        {
            Put(map, model, Key(i), RandomBytes(rng, 20));
        }

        int failures = 0;
        for (int i = 0; i < 300 && failures < 10; i++)
        {
            byte[] value = RandomBytes(rng, rng.Next(40, 400)); // under half a payload: always a chunk, never a block
            CMapStatistics before = map.GetStatistics();
            map.ArenaForTests.FailAfter = 1;
            try
            {
                Assert.False(map.Insert(Key(0), value));
                model[Key(0)] = value;
                Assert.Equal(1, map.ArenaForTests.FailAfter); // no allocation was needed
            }
            catch (OutOfMemoryException e)
            {
                Assert.IsType<InsufficientMemoryException>(e);
                failures++;
                AssertUnchanged(map, model, before, "overwrite that needed a new chunk");
                Assert.Equal(before.ChunksAllocated, map.GetStatistics().ChunksAllocated);
            }
            finally
            {
                map.ArenaForTests.FailAfter = 0;
            }
        }

        Assert.True(failures >= 10, $"expected overwrites to need new chunks; saw {failures} failed allocations");
        Put(map, model, Key(0), "works-after"u8.ToArray());
        AssertUnchanged(map, model, map.GetStatistics(), "after recovery");
    }

    /// <summary>
    /// 476-byte entries fill a 1 KiB chunk exactly two at a time, and growth happens on the 13th, 25th, 49th… insert:
    /// always an odd one, which also needs a new chunk. FailAfter = 1 fails the rebuild; FailAfter = 2 lets the
    /// rebuild succeed and fails the chunk right after it.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void OutOfMemoryDuringAnInsertThatGrowsTheIndexChangesNothing(int failAfter)
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 5, ChunkSizes = [1024], MaxRetainedChunkBytes = 0 });
        var model = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        var rng = new Random(13);
        int growthFailures = 0, otherFailures = 0;
        for (int i = 0; i < 200; i++)
        {
            byte[] key = Key(i);
            byte[] value = RandomBytes(rng, 476 - 4 - key.Length);
            CMapStatistics before = map.GetStatistics();
            bool growing = before.Count + 1 > Capacity(before.IndexBytes - map.ChunkListBytesForTests) * 3 / 4;
            // The shard's chunk list is full too (its array holds 8 bytes per chunk): a new chunk first grows it.
            bool listFull = before.ChunkBytes / 1024 == map.ChunkListBytesForTests / 8;
            map.ArenaForTests.FailAfter = failAfter;
            try
            {
                Assert.True(map.Insert(key, value));
                model[key] = value;
            }
            catch (OutOfMemoryException)
            {
                map.ArenaForTests.FailAfter = 0;
                AssertUnchanged(map, model, before, $"insert #{i} (growing={growing}, FailAfter={failAfter})", allowRebuild: failAfter > 1);
                Assert.False(map.ContainsKey(key));
                long rebuildsAfterFailure = map.GetStatistics().IndexRebuilds;
                Assert.True(map.Insert(key, value), "the retry must succeed");
                model[key] = value;
                if (growing)
                {
                    growthFailures++;
                    Assert.Equal(failAfter == 1 ? before.IndexRebuilds : before.IndexRebuilds + 1, rebuildsAfterFailure);
                }
                else if (!listFull)
                {
                    otherFailures++;
                }
            }
            finally
            {
                map.ArenaForTests.FailAfter = 0;
            }
        }

        output.WriteLine($"FailAfter={failAfter}: {growthFailures} failures during index growth, {otherFailures} others, {map.GetStatistics().IndexRebuilds} rebuilds");
        Assert.True(growthFailures >= 4, $"expected failures during index growth, saw {growthFailures}");
        if (failAfter == 2)
        {
            Assert.Equal(0, otherFailures); // only inserts that grow the index or the chunk list need two allocations
        }

        AssertUnchanged(map, model, map.GetStatistics(), "end");
    }

    [Fact]
    public void OutOfMemoryOnAnOversizeBlockLeavesTheOldValue()
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 2, Seed = 6 });
        var model = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        var rng = new Random(14);
        Put(map, model, "big"u8.ToArray(), RandomBytes(rng, 100_000));
        Put(map, model, "small"u8.ToArray(), RandomBytes(rng, 10));

        CMapStatistics before = map.GetStatistics();
        map.ArenaForTests.FailAfter = 1;
        Assert.ThrowsAny<OutOfMemoryException>(() => map.Insert("big"u8, RandomBytes(rng, 120_000)));
        AssertUnchanged(map, model, before, "oversize overwrite");
        Assert.Equal(before.OversizeBytes, map.GetStatistics().OversizeBytes);

        map.ArenaForTests.FailAfter = 1;
        Assert.ThrowsAny<OutOfMemoryException>(() => map.Insert("small"u8, RandomBytes(rng, 200_000)));
        AssertUnchanged(map, model, before, "small value replaced by an oversize one");

        map.ArenaForTests.FailAfter = 1;
        Assert.ThrowsAny<OutOfMemoryException>(() => map.TryAdd("new"u8, RandomBytes(rng, 200_000)));
        AssertUnchanged(map, model, before, "TryAdd of an oversize value");

        map.ArenaForTests.FailAfter = 1;
        Assert.ThrowsAny<OutOfMemoryException>(() => map.GetOrInsert("new"u8, RandomBytes(rng, 200_000), out _));
        AssertUnchanged(map, model, before, "GetOrInsert of an oversize value");
        Assert.False(map.ContainsKey("new"u8));
        Assert.Equal(0, map.ArenaForTests.FailAfter);

        // Still works, and the replaced block is freed.
        Put(map, model, "big"u8.ToArray(), RandomBytes(rng, 150_000));
        Put(map, model, "new"u8.ToArray(), RandomBytes(rng, 5));
        AssertUnchanged(map, model, map.GetStatistics(), "after recovery");
        map.Dispose();
        Assert.Equal(0, map.ArenaForTests.OutstandingBytes);
    }

    [Fact]
    public void DeleteSucceedsWhenTheShrinkingRebuildCannotAllocate()
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 7 });
        var model = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        for (int i = 0; i < 400; i++)
        {
            Put(map, model, Key(i), BitConverter.GetBytes(i));
        }

        int failedShrinks = 0;
        for (int i = 0; i < 400; i++)
        {
            long rebuilds = map.GetStatistics().IndexRebuilds;
            map.ArenaForTests.FailAfter = 1;
            Assert.True(map.Delete(Key(i)), $"Delete #{i} must succeed even when the optional shrink fails");
            model.Remove(Key(i));
            if (map.ArenaForTests.FailAfter == 0)
            {
                failedShrinks++;
                Assert.Equal(rebuilds, map.GetStatistics().IndexRebuilds);
            }

            map.ArenaForTests.FailAfter = 0;
            Assert.Equal(model.Count, map.Count);
        }

        Assert.True(failedShrinks > 0, "expected at least one delete to attempt a shrinking rebuild");
        map.Insert("k"u8, "v"u8);
        Assert.Equal("v"u8.ToArray(), map.Get("k"u8));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ClearThatRunsOutOfMemoryKeepsTheShardsItDidNotClear(int failAfter)
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 4, Seed = 8 });
        var model = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        for (int i = 0; i < 500; i++)
        {
            Put(map, model, Key(i), BitConverter.GetBytes(i * 3));
        }

        map.ArenaForTests.FailAfter = failAfter;
        Assert.ThrowsAny<OutOfMemoryException>(map.Clear);
        map.ArenaForTests.FailAfter = 0;

        // Every key is either intact or gone (never corrupted), and the counters agree with what is left.
        var left = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        foreach (KeyValuePair<byte[], byte[]> kv in model)
        {
            byte[]? v = map.Get(kv.Key);
            if (v is not null)
            {
                Assert.Equal(kv.Value, v);
                left[kv.Key] = v;
            }
        }

        Assert.Equal(left.Count, map.Count);
        Assert.Equal(ModelRules.LiveBytes(left), map.GetStatistics().LiveBytes);
        if (failAfter == 1)
        {
            Assert.Equal(model.Count, left.Count); // the first shard failed: nothing was cleared
        }
        else
        {
            Assert.InRange(left.Count, 1, model.Count - 1); // two shards cleared, two kept
        }

        map.Clear();
        Assert.Equal(0, map.Count);
        Assert.Equal(0, map.GetStatistics().LiveBytes);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(0)]
    public void AValueOverMaxValueLengthThrowsNamingTheLimitAndChangesNothing(int limit)
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 2, Seed = 9, MaxValueLength = limit });
        var model = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        Put(map, model, "k"u8.ToArray(), new byte[limit]);
        Put(map, model, "empty"u8.ToArray(), []);
        CMapStatistics before = map.GetStatistics();
        byte[] tooLong = new byte[limit + 1];
        string n0 = limit.ToString("N0", CultureInfo.InvariantCulture);

        AssertValueTooLong(() => map.Insert("k"u8, tooLong));
        AssertValueTooLong(() => map.Insert("fresh"u8, tooLong));
        AssertValueTooLong(() => map.TryAdd("fresh"u8, tooLong));
        AssertValueTooLong(() => map.GetOrInsert("fresh"u8, tooLong, out _));
        AssertValueTooLong(() => map.GetOrInsert("k"u8, tooLong, out _));
        AssertUnchanged(map, model, before, "value over MaxValueLength");
        Assert.False(map.ContainsKey("fresh"u8));
        Assert.Equal(before.NativeBytes, map.GetStatistics().NativeBytes);

        void AssertValueTooLong(Action call)
        {
            var ex = Assert.Throws<ArgumentException>(call);
            Assert.True(
                ex.Message.Contains(n0, StringComparison.Ordinal) && ex.Message.Contains("MaxValueLength", StringComparison.Ordinal),
                $"the message should name the limit {n0} (MaxValueLength): {ex.Message}");
        }
    }

    [Fact]
    public void AKeyOverTheLimitChangesNothingEvenUnderMemoryPressure()
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 10 });
        var model = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        Put(map, model, new byte[ByteMap.MaxKeyLength], "max"u8.ToArray());
        CMapStatistics before = map.GetStatistics();
        map.ArenaForTests.FailAfter = 1; // a limit check must come before any allocation
        var ex = Assert.Throws<ArgumentException>(() => map.Insert(new byte[ByteMap.MaxKeyLength + 1], new byte[100_000]));
        Assert.Contains("65,535", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, map.ArenaForTests.FailAfter);
        map.ArenaForTests.FailAfter = 0;
        AssertUnchanged(map, model, before, "key over the limit");
    }

    private static void Put(ByteMap map, Dictionary<byte[], byte[]> model, byte[] key, byte[] value)
    {
        map.Insert(key, value);
        model[key] = value;
    }

    private static void AssertUnchanged(ByteMap map, Dictionary<byte[], byte[]> model, CMapStatistics before, string what, bool allowRebuild = false)
    {
        CMapStatistics after = map.GetStatistics();
        Assert.True(model.Count == map.Count, $"{what}: Count {map.Count} != {model.Count}");
        Assert.True(after.LiveBytes == ModelRules.LiveBytes(model), $"{what}: LiveBytes {after.LiveBytes} != {ModelRules.LiveBytes(model)}");
        Assert.True(after.LiveBytes == before.LiveBytes, $"{what}: LiveBytes moved from {before.LiveBytes} to {after.LiveBytes}");
        Assert.True(after.DeadBytes == before.DeadBytes, $"{what}: DeadBytes moved from {before.DeadBytes} to {after.DeadBytes}");
        if (!allowRebuild)
        {
            Assert.True(after.IndexRebuilds == before.IndexRebuilds, $"{what}: the index was rebuilt");
        }

        foreach (KeyValuePair<byte[], byte[]> kv in model)
        {
            byte[]? v = map.Get(kv.Key);
            Assert.True(v is not null && v.AsSpan().SequenceEqual(kv.Value), $"{what}: key {ModelRules.Describe(kv.Key)} holds {ModelRules.Describe(v)}, expected {ModelRules.Describe(kv.Value)}");
        }
    }

    private static long Capacity(long indexBytes) => (indexBytes - 64) / 8;

    private static byte[] Key(int i) => BitConverter.GetBytes(unchecked((ulong)i * 0x9E3779B97F4A7C15UL));

    private static byte[] Value(Random rng, int i)
    {
        int r = rng.Next(100);
        int len = r < 70 ? rng.Next(0, 200) : r < 95 ? rng.Next(200, 3000) : rng.Next(20_000, 120_000);
        var v = new byte[len];
        rng.NextBytes(v);
        if (len >= 4)
        {
            BitConverter.TryWriteBytes(v, i);
        }

        return v;
    }

    private static byte[] RandomBytes(Random rng, int length)
    {
        var b = new byte[length];
        rng.NextBytes(b);
        return b;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NativeArena CreateFillAndAbandon(int seed, bool backgroundCompaction)
    {
        var map = new ByteMap(new CMapConfig { ShardCount = 4, Seed = (ulong)seed, ChunkSizes = [1024, 4096], BackgroundCompaction = backgroundCompaction });
        var rng = new Random(seed);
        for (int i = 0; i < 2000; i++)
        {
            map.Insert(Key(i), Value(rng, i));
        }

        map.Insert("big"u8, new byte[300_000]);
        map.Insert("big"u8, new byte[200_000]); // leaves a retired block pending
        for (int i = 0; i < 2000; i += 3)
        {
            map.Delete(Key(i));
        }

        Assert.True(map.ArenaForTests.OutstandingBytes > 0);
        return map.ArenaForTests;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TryCreateInvalid(int i)
    {
        try
        {
            _ = i % 2 == 0
                ? new ByteMap(new CMapConfig { ShardCount = 3 })
                : new ByteMap(new CMapConfig { ChunkSizes = [1000] });
            Assert.Fail("an invalid configuration was accepted");
        }
        catch (ArgumentException)
        {
        }
    }
}
