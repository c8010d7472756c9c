using System;
using System.Buffers;
using System.Globalization;
using CMap.Buffer;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace CMap.Tests.Support;

/// <summary>
/// Shared pieces of the cache tests (tests/CMap.Tests/Cache): named map configurations on a fake clock, presence checks
/// through every read API, and the expiry arithmetic the documentation states (restated here, independently of src/).
/// </summary>
public static class CacheTestKit
{
    public const string OneShard = "one-shard";
    public const string TinyChunks = "tiny-chunks";
    public const string ManyShards = "many-shards";
    public const string Budgeted = "budgeted";
    public const string BudgetedTinyChunks = "budgeted-tiny-chunks";

    /// <summary>Configurations every expiry contract test runs on: all compact only on demand, so a test is deterministic.</summary>
    public static TheoryData<string> ExpiryConfigs => new() { OneShard, TinyChunks, ManyShards, Budgeted, BudgetedTinyChunks };

    /// <summary>Value lengths: inline in a chunk, over half a 1 KiB chunk's payload (a block there), and always a block.</summary>
    public static readonly int[] ValueLengths = [16, 700, 100_000];

    /// <summary>Every expiry configuration crossed with every value length.</summary>
    public static TheoryData<string, int> ExpiryConfigsAndLengths
    {
        get
        {
            var data = new TheoryData<string, int>();
            foreach (string c in new[] { OneShard, TinyChunks, ManyShards, Budgeted, BudgetedTinyChunks })
            {
                foreach (int n in ValueLengths)
                {
                    data.Add(c, n);
                }
            }

            return data;
        }
    }

    /// <summary>A fake clock at a fixed start (FakeTimeProvider's default, 2000-01-01 UTC); timestamps are .NET ticks.</summary>
    public static FakeTimeProvider NewClock() => new();

    /// <summary>
    /// The named configuration on <paramref name="time"/>. BackgroundCompaction is off, so the expiry timer's tick sweeps on
    /// the thread that advances the fake clock and no other thread ever touches the map.
    /// </summary>
    public static CMapConfig Create(string name, TimeProvider time, ulong seed = 11, TimeSpan? scanInterval = null) =>
        Create(name, time, seed, scanInterval, schedulerFactory: null);

    /// <summary>As <see cref="Create(string, TimeProvider, ulong, TimeSpan?)"/>, with a test scheduler running the passes.</summary>
    internal static CMapConfig Create(string name, TimeProvider time, ulong seed, TimeSpan? scanInterval, Func<CMap.Compaction.CompactionScheduler>? schedulerFactory)
    {
        TimeSpan scan = scanInterval ?? TimeSpan.FromSeconds(1);
        return name switch
        {
            OneShard => new CMapConfig { ShardCount = 1, Seed = seed, TimeProvider = time, ExpirationScanInterval = scan, BackgroundCompaction = false, CompactionSchedulerFactory = schedulerFactory },
            TinyChunks => new CMapConfig { ShardCount = 4, Seed = seed, TimeProvider = time, ExpirationScanInterval = scan, BackgroundCompaction = false, CompactionSchedulerFactory = schedulerFactory, ChunkSizes = [1024, 2048, 4096], MaxRetainedChunkBytes = 8192 },
            ManyShards => new CMapConfig { ShardCount = 64, Seed = seed, TimeProvider = time, ExpirationScanInterval = scan, BackgroundCompaction = false, CompactionSchedulerFactory = schedulerFactory },
            Budgeted => new CMapConfig { ShardCount = 4, Seed = seed, TimeProvider = time, ExpirationScanInterval = scan, BackgroundCompaction = false, CompactionSchedulerFactory = schedulerFactory, MaxBytes = 64L << 20 },
            BudgetedTinyChunks => new CMapConfig { ShardCount = 4, Seed = seed, TimeProvider = time, ExpirationScanInterval = scan, BackgroundCompaction = false, CompactionSchedulerFactory = schedulerFactory, MaxBytes = 16L << 20, ChunkSizes = [1024, 2048, 4096] },
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
        };
    }

    /// <summary>docs/design.md: 4-byte header when key ≤ 255 and value &lt; 4 MiB (else 8), the key and the value; no expiry bytes.</summary>
    public static long PlainEntrySize(int keyLength, int valueLength) => ModelRules.EntrySize(keyLength, valueLength);

    /// <summary>
    /// CMapEntryOptions' remark: a sliding entry's last access is recorded only when it moved by at least
    /// min(window / 8, 1 s), in timestamp ticks (FakeTimeProvider: 10^7 per second).
    /// </summary>
    public static TimeSpan SlidingGranularity(TimeSpan window) =>
        TimeSpan.FromTicks(Math.Max(1, Math.Min(window.Ticks / 8, TimeSpan.TicksPerSecond)));

    public static byte[] Value(int length, int seed) => MapConfigurations.Bytes(length, seed);

    public static byte[] Key(int i) => MapConfigurations.Key(i);

    /// <summary>Asserts <paramref name="key"/> reads as <paramref name="expected"/> through every read API.</summary>
    public static void AssertPresent(ByteMap map, ReadOnlySpan<byte> key, byte[] expected, string context)
    {
        byte[]? got = map.Get(key);
        Assert.True(got is not null, $"{context}: Get returned null, expected a {expected.Length}-byte value");
        Assert.True(got.AsSpan().SequenceEqual(expected), $"{context}: Get returned {ModelRules.Describe(got)}, expected {ModelRules.Describe(expected)}");
        Assert.True(map.ContainsKey(key), $"{context}: ContainsKey is false");
        var buffer = new byte[expected.Length];
        Assert.True(map.TryGet(key, buffer, out int written), $"{context}: TryGet(span) is false");
        Assert.Equal(expected.Length, written);
        var writer = new ArrayBufferWriter<byte>();
        Assert.True(map.TryGet(key, writer), $"{context}: TryGet(IBufferWriter) is false");
        Assert.True(writer.WrittenSpan.SequenceEqual(expected), $"{context}: TryGet(IBufferWriter) wrote other bytes");
        bool same = false;
        Assert.True(map.TryRead(key, expected, (span, e) => same = span.SequenceEqual(e)), $"{context}: TryRead is false");
        Assert.True(same, $"{context}: TryRead's callback saw other bytes");
    }

    /// <summary>Asserts <paramref name="key"/> is absent through every read API.</summary>
    public static void AssertAbsent(ByteMap map, ReadOnlySpan<byte> key, string context)
    {
        byte[]? got = map.Get(key);
        Assert.True(got is null, $"{context}: Get returned {ModelRules.Describe(got)}, expected null");
        Assert.False(map.ContainsKey(key), $"{context}: ContainsKey is true");
        Span<byte> buffer = stackalloc byte[8];
        Assert.False(map.TryGet(key, buffer, out int written), $"{context}: TryGet(span) is true");
        Assert.True(written == 0, $"{context}: TryGet(span) reported {written} bytes for an absent key");
        Assert.False(map.TryGet(key, new ArrayBufferWriter<byte>()), $"{context}: TryGet(IBufferWriter) is true");
        bool called = false;
        Assert.False(map.TryRead(key, 0, (_, _) => called = true), $"{context}: TryRead is true");
        Assert.False(called, $"{context}: TryRead called its callback for an absent key");
    }

    /// <summary>Disposes the map and asserts its arena holds no native byte afterwards.</summary>
    public static void DisposeAndAssertNoNativeBytes(ByteMap map, string context)
    {
        NativeArena arena = map.ArenaForTests;
        map.Dispose();
        Assert.True(arena.OutstandingBytes == 0, $"{context}: {arena.OutstandingBytes:N0} native bytes outstanding after Dispose ({arena.Allocations} allocations, {arena.Frees} frees)");
    }

    /// <summary>Whether <paramref name="message"/> names <paramref name="number"/>, written with or without digit grouping.</summary>
    public static bool NamesNumber(string message, long number) =>
        message.Contains(number.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal) ||
        message.Contains(number.ToString("N0", CultureInfo.InvariantCulture), StringComparison.Ordinal);

    public static string Counters(CMapStatistics s) =>
        string.Create(CultureInfo.InvariantCulture, $"count {s.Count}, hits {s.Hits}, misses {s.Misses}, evictions {s.Evictions}, expirations {s.Expirations}, removals {s.Removals}, live {s.LiveBytes:N0}, native {s.NativeBytes:N0}");
}
