using System;
using System.Diagnostics;
using CMap;
using CMap.Tests.Stress;
using CMap.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static CMap.Tests.Support.CacheTestKit;

namespace CMap.Tests.Cache;

/// <summary>
/// What eviction keeps: reads set an access mark, new entries start on probation, and a scan of one-time keys must not
/// flush a hot set that is read between its batches (S3-FIFO's promise, CMapConfig.MaxBytes and docs/design.md). The
/// capacity is measured on the same settings: the distinct entries of the test's value size a map holds before its first
/// eviction. The hot set is 10% of it; the scan is 10 x capacity one-time keys, in batches of capacity / 10, each hot key
/// read once between batches. "manual" runs the compactor's pass after every write (deterministic); "background" is the
/// map's own compactor thread, racing the writer; "inline" has no compactor (BackgroundCompaction = false), so only the
/// writers evict.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class EvictionPolicyTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> SmallValueCases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string shape in new[] { "four-shards-64k-chunks", "eight-shards-4k-chunks", "one-shard" })
            {
                data.Add(shape, "manual");
                data.Add(shape, "background");
            }

            // No compactor at all: the writers' inline eviction is the only one.
            data.Add("four-shards-64k-chunks", "inline");

            return data;
        }
    }

    private sealed record Shape(long MaxBytes, int Shards, int[]? Chunks, int ValueLength);

    private static Shape ShapeOf(string name) => name switch
    {
        "four-shards-64k-chunks" => new Shape(4L << 20, 4, null, 100),
        "eight-shards-4k-chunks" => new Shape(4L << 20, 8, [4096, 16384], 100),
        "one-shard" => new Shape(2L << 20, 1, null, 100),
        "large-values" => new Shape(16L << 20, 4, null, 128 << 10),
        "large-values-one-shard" => new Shape(12L << 20, 1, null, 200 << 10),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static ByteMap NewMap(Shape shape, string mode, int seed, out ManualCompactionScheduler? scheduler)
    {
        ManualCompactionScheduler? s = mode == "manual" ? new ManualCompactionScheduler() : null;
        scheduler = s;
        return new ByteMap(new CMapConfig
        {
            ShardCount = shape.Shards,
            Seed = (ulong)seed,
            MaxBytes = shape.MaxBytes,
            ChunkSizes = shape.Chunks,
            BackgroundCompaction = mode == "background",
            CompactionSchedulerFactory = s is null ? null : () => s,
        });
    }

    /// <summary>Distinct entries of the shape's value size written (compactor run after each) before the first eviction.</summary>
    private static int MeasureCapacity(Shape shape, int seed)
    {
        var map = NewMap(shape, "manual", seed, out ManualCompactionScheduler? scheduler);
        byte[] value = Value(shape.ValueLength, 1);
        int i = 0;
        for (; i < 10_000_000; i++)
        {
            map.Insert(ScanKey(i), value);
            scheduler!.RunPending();
            if (map.GetStatistics().Evictions > 0)
            {
                break;
            }
        }

        DisposeAndAssertNoNativeBytes(map, "capacity probe");
        return i;
    }

    private static byte[] HotKey(int i) => BitConverter.GetBytes(0x40_0000_0000L + i);

    private static byte[] ScanKey(long i) => BitConverter.GetBytes(0x7000_0000_0000L + i);

    [Theory]
    [MemberData(nameof(SmallValueCases))]
    public void AHotSetReadBetweenBatchesSurvivesAScanOfTenTimesTheCapacity(string shapeName, string mode)
    {
        RunHotSet(ShapeOf(shapeName), shapeName, mode, hotFraction: 10);
    }

    [Theory]
    [InlineData("large-values", "manual")]
    [InlineData("large-values", "background")]
    [InlineData("large-values-one-shard", "manual")]
    public void AHotSetOfLargeValuesSurvivesAScanOfColdLargeValues(string shapeName, string mode)
    {
        RunHotSet(ShapeOf(shapeName), shapeName, mode, hotFraction: 10);
    }

    /// <summary>One hot large value (its own block), read between batches, outlives a scan of 10 x capacity cold ones.</summary>
    [Theory]
    [InlineData("large-values", "manual")]
    [InlineData("large-values", "background")]
    [InlineData("large-values-one-shard", "manual")]
    public void OneHotLargeValueSurvivesAScanOfColdLargeValues(string shapeName, string mode)
    {
        RunHotSet(ShapeOf(shapeName), shapeName, mode, hotFraction: 0);
    }

    private void RunHotSet(Shape shape, string shapeName, string mode, int hotFraction)
    {
        int seed = 5800 + shapeName.Length + mode.Length + hotFraction;
        int capacity = MeasureCapacity(shape, seed);
        int hot = hotFraction == 0 ? 1 : Math.Max(1, capacity / hotFraction);
        int batch = Math.Max(1, capacity / 10);
        long scan = 10L * capacity;
        output.WriteLine($"seed {seed}, {shapeName} ({shape}), {mode}: capacity {capacity:N0} entries of {shape.ValueLength:N0} B; hot set {hot:N0}; scan {scan:N0} in batches of {batch:N0}");
        Assert.True(capacity >= 10, $"capacity {capacity} is too small for the test to mean anything");

        var map = NewMap(shape, mode, seed, out ManualCompactionScheduler? scheduler);
        byte[] hotValue = Value(shape.ValueLength, 2);
        byte[] coldValue = Value(shape.ValueLength, 3);
        for (int h = 0; h < hot; h++)
        {
            map.Insert(HotKey(h), hotValue);
            scheduler?.RunPending();
        }

        for (int h = 0; h < hot; h++)
        {
            Assert.NotNull(map.Get(HotKey(h)));
        }

        var clock = Stopwatch.StartNew();
        long written = 0;
        int minPresent = hot, lastPresent = hot, rounds = 0;
        while (written < scan)
        {
            for (int b = 0; b < batch && written < scan; b++, written++)
            {
                map.Insert(ScanKey(written), coldValue);
                scheduler?.RunPending();
            }

            int present = 0;
            for (int h = 0; h < hot; h++)
            {
                byte[]? got = map.Get(HotKey(h));
                if (got is not null)
                {
                    Assert.True(got.AsSpan().SequenceEqual(hotValue), $"hot key {h} read back other bytes");
                    present++;
                }
            }

            rounds++;
            minPresent = Math.Min(minPresent, present);
            lastPresent = present;
        }

        CMapStatistics s = map.GetStatistics();
        long secondChances = 0;
        for (int i = 0; i < map.ShardCount; i++)
        {
            secondChances += map.ShardForTests(i).SecondChances;
        }

        output.WriteLine($"{rounds} rounds in {clock.ElapsedMilliseconds} ms; hot keys present at the end {lastPresent:N0} of {hot:N0} (fewest in any round {minPresent:N0}); second chances given {secondChances:N0}; compaction passes {s.CompactionPasses:N0}; {Counters(s)}");
        Assert.True(s.Evictions > 0, "nothing was evicted");
        Assert.Equal(hot + scan, s.Count + s.Evictions);
        Assert.True(s.Count <= capacity * 1.2, $"the map holds {s.Count:N0} entries, over its measured capacity {capacity:N0}");
        Assert.True(lastPresent * 10 >= hot * 9, $"only {lastPresent:N0} of {hot:N0} hot keys ({100.0 * lastPresent / hot:F1}%) survived a scan of {scan:N0} one-time keys although each was read between batches; at least 90% must");
        DisposeAndAssertNoNativeBytes(map, shapeName);
    }

    /// <summary>
    /// Without reads there is no hot set: a scan evicts the oldest entries first (probation is a FIFO), so the first
    /// capacity / 10 keys written are gone after a scan of 10 x capacity. The control for the tests above: the survival
    /// there is the marks' doing.
    /// </summary>
    [Fact]
    public void UnreadKeysDoNotSurviveTheScan()
    {
        Shape shape = ShapeOf("four-shards-64k-chunks");
        int seed = 5890;
        int capacity = MeasureCapacity(shape, seed);
        int hot = capacity / 10;
        var map = NewMap(shape, "manual", seed, out ManualCompactionScheduler? scheduler);
        byte[] value = Value(shape.ValueLength, 2);
        for (int h = 0; h < hot; h++)
        {
            map.Insert(HotKey(h), value);
            scheduler!.RunPending();
        }

        for (long i = 0; i < 10L * capacity; i++)
        {
            map.Insert(ScanKey(i), value);
            scheduler!.RunPending();
        }

        int present = 0;
        for (int h = 0; h < hot; h++)
        {
            present += map.ContainsKey(HotKey(h)) ? 1 : 0;
        }

        output.WriteLine($"capacity {capacity:N0}: {present} of {hot} unread early keys survived; {Counters(map.GetStatistics())}");
        Assert.True(present * 10 < hot, $"{present} of {hot} keys that were never read survived a scan of 10 x capacity");
        DisposeAndAssertNoNativeBytes(map, "control");
    }
}
