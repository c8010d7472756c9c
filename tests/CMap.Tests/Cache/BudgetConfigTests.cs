using System;
using CMap;
using CMap.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using Xunit.Abstractions;
using static CMap.Tests.Support.CacheTestKit;

namespace CMap.Tests.Cache;

/// <summary>
/// The byte budget's limits (CMapConfig.MaxBytes): the smallest budget is CMapConfig.GetMinimumMaxBytes(), a smaller
/// one is rejected with an ArgumentException naming both numbers; an entry over a quarter of the budget is rejected
/// with an ArgumentException naming the limit, and the map is unchanged.
/// </summary>
public sealed class BudgetConfigTests(ITestOutputHelper output)
{
    public static TheoryData<string> Shapes => new()
    {
        "one-shard", "four-shards-tiny-chunks", "sixteen-shards-capacity", "automatic-shards", "automatic-shards-capacity", "automatic-shards-tiny-chunks",
    };

    /// <summary>Settings without a budget; <paramref name="maxBytes"/> adds one.</summary>
    private static CMapConfig Shape(string name, long? maxBytes, bool background = false) => name switch
    {
        "one-shard" => new CMapConfig { ShardCount = 1, Seed = 1, MaxBytes = maxBytes, BackgroundCompaction = background },
        "four-shards-tiny-chunks" => new CMapConfig { ShardCount = 4, Seed = 1, MaxBytes = maxBytes, BackgroundCompaction = background, ChunkSizes = [1024, 2048, 4096] },
        "sixteen-shards-capacity" => new CMapConfig { ShardCount = 16, Seed = 1, MaxBytes = maxBytes, BackgroundCompaction = background, InitialCapacity = 100_000 },
        "automatic-shards" => new CMapConfig { Seed = 1, MaxBytes = maxBytes, BackgroundCompaction = background },
        "automatic-shards-capacity" => new CMapConfig { Seed = 1, MaxBytes = maxBytes, BackgroundCompaction = background, InitialCapacity = 200_000, ChunkSizes = [4096, 65536] },
        "automatic-shards-tiny-chunks" => new CMapConfig { Seed = 1, MaxBytes = maxBytes, BackgroundCompaction = background, ChunkSizes = [1024, 4096] },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>
    /// The documented way to size a budget: ask the settings for GetMinimumMaxBytes(), then set MaxBytes. One byte less
    /// is rejected with both numbers in the message; exactly that is accepted.
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void OneByteUnderGetMinimumMaxBytesIsRejectedNamingBothNumbersAndTheMinimumItselfIsAccepted(string shape)
    {
        long minimum = Shape(shape, null).GetMinimumMaxBytes();
        output.WriteLine($"{shape}: GetMinimumMaxBytes() = {minimum:N0}");
        Assert.True(minimum > 0);

        Exception? e = Record.Exception(() => new ByteMap(Shape(shape, minimum - 1)).Dispose());
        output.WriteLine($"MaxBytes = {minimum - 1:N0}: {(e is null ? "accepted" : $"{e.GetType().Name}: {e.Message}")}");
        Assert.True(e is ArgumentException, $"{shape}: MaxBytes = GetMinimumMaxBytes() - 1 = {minimum - 1:N0} was {(e is null ? "accepted" : $"answered with {e.GetType().Name}")}; it must be rejected with an ArgumentException");
        Assert.True(NamesNumber(e!.Message, minimum), $"the message does not name the minimum {minimum:N0}: {e.Message}");
        Assert.True(NamesNumber(e.Message, minimum - 1), $"the message does not name the value given, {minimum - 1:N0}: {e.Message}");
        Assert.Contains("MaxBytes", e.Message, StringComparison.Ordinal);

        var map = new ByteMap(Shape(shape, minimum));
        CMapStatistics s = map.GetStatistics();
        Assert.Equal(minimum, s.MaxBytes);
        Assert.True(s.NativeBytes <= minimum, $"an empty map at its minimum budget already holds {s.NativeBytes:N0} > {minimum:N0} bytes");
        map.Insert("k"u8, "v"u8);
        Assert.Equal("v"u8.ToArray(), map.Get("k"u8));
        DisposeAndAssertNoNativeBytes(map, shape);
    }

    /// <summary>The minimum a budgeted config reports for itself is never more than its own budget (it constructs).</summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void AConfigAtItsOwnReportedMinimumIsAccepted(string shape)
    {
        long minimum = Shape(shape, null).GetMinimumMaxBytes();
        CMapConfig budgeted = Shape(shape, minimum);
        long own = budgeted.GetMinimumMaxBytes();
        output.WriteLine($"{shape}: unbudgeted minimum {minimum:N0}; with MaxBytes = that, the config reports {own:N0}");
        Assert.True(own <= minimum, $"a config with MaxBytes = {minimum:N0} reports a minimum of {own:N0}");
        var map = new ByteMap(budgeted);
        DisposeAndAssertNoNativeBytes(map, shape);

        var atOwn = new ByteMap(Shape(shape, own));
        DisposeAndAssertNoNativeBytes(atOwn, shape);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MinValue)]
    [InlineData(1024L)]
    public void ABudgetBelowAnyMinimumIsRejected(long maxBytes)
    {
        Exception? e = Record.Exception(() => new ByteMap(new CMapConfig { ShardCount = 1, MaxBytes = maxBytes, BackgroundCompaction = false }).Dispose());
        Assert.True(e is ArgumentException, $"MaxBytes = {maxBytes} was {(e is null ? "accepted" : e.GetType().Name)}");
        Assert.Contains("MaxBytes", e!.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// At the smallest budget the settings allow, a write-heavy stream of small and medium entries never fails and the
    /// native bytes stay within 1.05 × the budget (sampled every 100 writes and after every write of 4 KiB or more).
    /// </summary>
    [Theory]
    [InlineData("one-shard", false)]
    [InlineData("four-shards-tiny-chunks", false)]
    [InlineData("sixteen-shards-capacity", false)]
    [InlineData("automatic-shards", false)]
    [InlineData("one-shard", true)]
    [InlineData("four-shards-tiny-chunks", true)]
    public void AMapAtItsMinimumBudgetTakesEveryWriteAndStaysWithinIt(string shape, bool background)
    {
        int seed = 5600 + shape.Length + (background ? 1 : 0);
        long minimum = Shape(shape, null).GetMinimumMaxBytes();
        output.WriteLine($"seed {seed}, {shape}, background {background}, MaxBytes = GetMinimumMaxBytes() = {minimum:N0}");
        var rng = new Random(seed);
        var map = new ByteMap(Shape(shape, minimum, background));
        long bound = minimum + (minimum / 20);
        long worst = 0, samples = 0, over = 0, writes = 0;
        long limit = minimum / 4;
        string? first = null;
        for (long written = 0; written < 20 * minimum; writes++)
        {
            int length = rng.Next(10) == 0 ? rng.Next(4096, (int)Math.Min(limit - 64, 64 << 10)) : rng.Next(1, 400);
            byte[] key = BitConverter.GetBytes(writes);
            map.Insert(key, Value(length, (int)writes));
            written += length;
            if (writes % 100 == 0 || length >= 4096)
            {
                long native = map.ArenaForTests.OutstandingBytes;
                samples++;
                worst = Math.Max(worst, native);
                if (native > bound)
                {
                    over++;
                    first ??= $"write {writes} ({length} B): native {native:N0} > {bound:N0}; {Counters(map.GetStatistics())}";
                }
            }
        }

        CMapStatistics s = map.GetStatistics();
        output.WriteLine($"{writes} writes, {samples} samples, worst native {worst:N0} ({(double)worst / minimum:F3} x budget), {over} over 1.05 x; {Counters(s)}");
        Assert.True(s.Evictions > 0, "nothing was evicted, so the budget was never tested");
        Assert.True(over == 0, $"{over} of {samples} samples over 1.05 x MaxBytes ({bound:N0}); first: {first}");
        DisposeAndAssertNoNativeBytes(map, shape);
    }

    /// <summary>
    /// The smallest case of the bound: one shard, no compactor, a map filled to just under its budget with small entries,
    /// then one write of the largest entry allowed (a quarter of the budget). When that write returns, the map must still
    /// hold at most 1.05 × MaxBytes: the writer has to make room for what it is about to add.
    /// </summary>
    [Theory]
    [InlineData(1, 8)]
    [InlineData(1, 64)]
    [InlineData(4, 8)]
    public void OneLargeWriteIntoAFullMapLeavesItWithinTheBudget(int shards, int maxMiB)
    {
        long maxBytes = (long)maxMiB << 20;
        var map = new ByteMap(new CMapConfig { ShardCount = shards, Seed = 9, MaxBytes = maxBytes, BackgroundCompaction = false });
        int i = 0;
        while (map.ArenaForTests.OutstandingBytes + (80 << 10) < maxBytes)
        {
            map.Insert(Key(i), Value(1000, i));
            i++;
        }

        CMapStatistics full = map.GetStatistics();
        long quarter = maxBytes / 4;
        byte[] big = new byte[quarter - 8 - (quarter - 12 < 4 << 20 ? 4 : 8)]; // an 8-byte key; the header is 4 bytes below 4 MiB, else 8
        map.Insert("the-big!"u8, big);
        CMapStatistics after = map.GetStatistics();
        output.WriteLine($"{shards} shards, MaxBytes {maxBytes:N0}: {i} small entries, native {full.NativeBytes:N0} ({(double)full.NativeBytes / maxBytes:F3} x); after one {big.Length:N0}-byte write native {after.NativeBytes:N0} ({(double)after.NativeBytes / maxBytes:F3} x), evictions {after.Evictions}");
        Assert.True(map.ContainsKey("the-big!"u8), "the large write is not readable right after it returned");
        Assert.True(after.NativeBytes <= maxBytes + (maxBytes / 20), $"after one write of a quarter of the budget into a full map, native bytes are {after.NativeBytes:N0} = {(double)after.NativeBytes / maxBytes:F3} x MaxBytes ({after.Evictions} evictions): the write did not make room for itself");
        DisposeAndAssertNoNativeBytes(map, "full map");
    }

    public static TheoryData<string, string> OverQuarterCases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string op in new[] { "Insert", "TryAdd", "GetOrInsert" })
            {
                foreach (string o in new[] { "none", "absolute", "sliding" })
                {
                    data.Add(op, o);
                }
            }

            return data;
        }
    }

    /// <summary>
    /// An entry (header, key, value and any expiry bytes) of MaxBytes / 4 + 1 bytes is rejected, naming the limit, with the
    /// map unchanged, whether the key is present or absent; one of exactly MaxBytes / 4 bytes is stored.
    /// </summary>
    [Theory]
    [MemberData(nameof(OverQuarterCases))]
    public void AnEntryOverAQuarterOfTheBudgetIsRejectedNamingTheLimitAndChangesNothing(string operation, string options)
    {
        const long maxBytes = 8L << 20;
        const long quarter = maxBytes / 4;
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(new CMapConfig { ShardCount = 4, Seed = 3, MaxBytes = maxBytes, TimeProvider = time, BackgroundCompaction = false });
        byte[] present = "present"u8.ToArray(), absent = "absent!"u8.ToArray();
        byte[] old = Value(100, 1);
        map.Insert(present, old);
        for (int i = 0; i < 200; i++)
        {
            map.Insert(Key(i), Value(300, i));
        }

        CMapEntryOptions? opts = options switch
        {
            "absolute" => CMapEntryOptions.ExpireAfter(TimeSpan.FromHours(1)),
            "sliding" => CMapEntryOptions.Sliding(TimeSpan.FromHours(1)),
            _ => null,
        };
        int expiryBytes = options switch { "absolute" => 8, "sliding" => 16, _ => 0 };

        // A 7-byte key and a value under 4 MiB: a 4-byte header.
        int fitting = (int)(quarter - 4 - 7 - expiryBytes);
        CMapStatistics before = map.GetStatistics();
        foreach (byte[] key in new[] { present, absent })
        {
            Exception? e = Record.Exception(() => Write(map, operation, key, new byte[fitting + 1], opts));
            Assert.True(e is ArgumentException, $"{operation} ({options}) of a {quarter + 1:N0}-byte entry: {(e is null ? "accepted" : e.GetType().Name)}");
            Assert.True(NamesNumber(e!.Message, quarter), $"the message does not name the limit {quarter:N0}: {e.Message}");
            output.WriteLine(e.Message);
            CMapStatistics after = map.GetStatistics();
            Assert.Equal(before.Count, after.Count);
            Assert.Equal(before.LiveBytes, after.LiveBytes);
            Assert.Equal(before.NativeBytes, after.NativeBytes);
            Assert.Equal(before.Evictions, after.Evictions);
        }

        Assert.Equal(old, map.Get(present));
        Assert.Null(map.Get(absent));

        // Exactly a quarter fits.
        byte[] big = Value(fitting, 2);
        Write(map, operation, absent, big, opts);
        Assert.Equal(big, map.Get(absent));
        Assert.Equal(0, map.GetStatistics().Evictions);
        Assert.Equal(before.LiveBytes + quarter, map.GetStatistics().LiveBytes);
        DisposeAndAssertNoNativeBytes(map, operation);
    }

    private static void Write(ByteMap map, string operation, byte[] key, byte[] value, CMapEntryOptions? options)
    {
        switch (operation)
        {
            case "Insert":
                _ = options is { } o1 ? map.Insert(key, value, o1) : map.Insert(key, value);
                break;
            case "TryAdd":
                _ = options is { } o2 ? map.TryAdd(key, value, o2) : map.TryAdd(key, value);
                break;
            default:
                _ = options is { } o3 ? map.GetOrInsert(key, value, o3, out _) : map.GetOrInsert(key, value, out _);
                break;
        }
    }

    /// <summary>Without a budget there is no quarter rule: a large value is limited only by MaxValueLength.</summary>
    [Fact]
    public void WithoutABudgetLargeEntriesAreLimitedOnlyByMaxValueLength()
    {
        var map = new ByteMap(new CMapConfig { ShardCount = 1, BackgroundCompaction = false });
        byte[] v = new byte[3 << 20];
        Assert.True(map.Insert("big"u8, v));
        Assert.Null(map.GetStatistics().MaxBytes);
        Assert.Equal(v.Length, map.Get("big"u8)!.Length);
        DisposeAndAssertNoNativeBytes(map, "unbudgeted");
    }

    /// <summary>
    /// A budget caps the automatic shard count so that 64 of each shard's smallest chunks fit in it: a small budget
    /// gets few shards, each large enough for its probation region and eviction to work on more than a chunk or two.
    /// </summary>
    [Theory]
    [InlineData(16L << 20)]
    [InlineData(95L << 20)]
    [InlineData(475L << 20)]
    [InlineData(4L << 30)]
    public void ABudgetCapsTheAutomaticShardCountSoSixtyFourChunksPerShardFit(long maxBytes)
    {
        const long smallestChunk = 64 << 10; // CMapConfig's default smallest class
        using var unbounded = new ByteMap(new CMapConfig { BackgroundCompaction = false });
        using var map = new ByteMap(new CMapConfig { MaxBytes = maxBytes, BackgroundCompaction = false });
        int shards = map.ShardCount;
        output.WriteLine($"budget {maxBytes:N0}: {shards} shards (unbounded: {unbounded.ShardCount})");
        Assert.True(shards * 64 * smallestChunk <= maxBytes, $"{shards} shards of 64 x {smallestChunk:N0}-byte chunks exceed the budget");
        Assert.True(shards == unbounded.ShardCount || 2 * shards * 64 * smallestChunk > maxBytes, $"{shards} shards: twice as many would still fit");
        Assert.True(shards <= unbounded.ShardCount);
    }

    /// <summary>
    /// [I8] With a budget an entry larger than an eighth of a chunk's payload gets a block of its own (a tail then wastes
    /// at most that much, and eviction takes such entries one by one); without one, only those over half the payload.
    /// </summary>
    [Theory]
    [InlineData(7_000, false, false)]
    [InlineData(7_000, true, false)]
    [InlineData(9_000, false, false)]
    [InlineData(9_000, true, true)]
    [InlineData(40_000, false, true)]
    public void WithABudgetEntriesOverAnEighthOfAChunksPayloadGetTheirOwnBlock(int valueLength, bool budgeted, bool ownBlock)
    {
        // 64 KiB chunks: the payload is 65,464 bytes; an eighth is 8,183, a half 32,732 (header and 16-byte key included).
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 1,
            ChunkSizes = [64 << 10],
            MaxBytes = budgeted ? 64L << 20 : null,
            BackgroundCompaction = false,
        });
        map.Insert("key-0123456789ab"u8, new byte[valueLength]);
        long oversize = map.GetStatistics().OversizeBytes;
        Assert.Equal(ownBlock, oversize > 0);
        Assert.Equal(valueLength, map.Get("key-0123456789ab"u8)!.Length);
    }

    /// <summary>
    /// A budget caps the chunk class so that 64 chunks of it per shard fit: a 64 MiB one-shard map may grow to 512 KiB
    /// chunks (64 of them are 32 MiB) but not to 2 MiB ones, which its live bytes would otherwise reach.
    /// </summary>
    [Fact]
    public void ABudgetCapsTheChunkClassSoSixtyFourChunksPerShardFit()
    {
        const long budget = 64L << 20;
        var value = new byte[1000];
        using var unbounded = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 5, BackgroundCompaction = false });
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 5, MaxBytes = budget, BackgroundCompaction = false });
        for (int i = 0; i < 40_000; i++)
        {
            byte[] key = System.Text.Encoding.ASCII.GetBytes($"key-{i:D12}");
            unbounded.Insert(key, value);
            map.Insert(key, value);
        }

        int cls = map.ShardForTests(0).SizeClassForTests;
        output.WriteLine($"40,000 x 1 KB: class {cls} with the budget, {unbounded.ShardForTests(0).SizeClassForTests} without; {map.GetStatistics().Evictions} evicted");
        Assert.Equal(2, unbounded.ShardForTests(0).SizeClassForTests); // the policy's choice for ~40 MB live: 2 MiB chunks
        Assert.Equal(1, cls);
        Assert.True(64 * (long)CMapConfig.DefaultChunkSizes[cls] <= budget);
        Assert.Equal(0, map.GetStatistics().Evictions);
    }
}
