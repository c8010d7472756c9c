using System;
using System.Collections.Generic;
using CMap;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Cache;

/// <summary>
/// S3-FIFO's two-bit access count (docs/design.md, Eviction; I9): a read raises an entry's count up to 3, promotion from
/// probation starts it afresh, and every time eviction looks at an entry in main it keeps the entry while the count was
/// above 0 and lowers it by one. So an entry read three times outlives one read once by two looks. Driven one eviction
/// at a time through the shard (no compactor, a budget far above what the test writes), with the count read from the
/// index word itself (a test view that is not a read, so looking does not raise it).
/// </summary>
public sealed class AccessCountTests(ITestOutputHelper output)
{
    private static readonly byte[] s_hot = "hot-key-00000000"u8.ToArray();
    private static readonly byte[] s_warm = "warm-key-0000000"u8.ToArray();

    private static ByteMap NewMap(int chunkSize = 4096) => new(new CMapConfig
    {
        ShardCount = 1,
        Seed = 23,
        MaxBytes = 64L << 20,
        ChunkSizes = [chunkSize],
        BackgroundCompaction = false,
    });

    private static byte[] Key(int i) => System.Text.Encoding.ASCII.GetBytes($"filler-{i:D9}");

    /// <summary>
    /// Writes <paramref name="valueLength"/>-byte values for the hot and warm keys and 200 unread fillers, reads the two
    /// once, evicts until both were promoted to main (their counts back at 0), then deletes the fillers: the two are all
    /// that is left.
    /// </summary>
    private static void PromoteHotAndWarm(ByteMap map, int valueLength)
    {
        map.Insert(s_hot, new byte[valueLength]);
        map.Insert(s_warm, new byte[valueLength]);
        for (int i = 0; i < 200; i++)
        {
            map.Insert(Key(i), new byte[64]);
        }

        Assert.True(map.TryGet(s_hot, new byte[valueLength], out _));
        Assert.True(map.TryGet(s_warm, new byte[valueLength], out _));
        Assert.Equal(1, map.AccessCountForTests(s_hot));
        Assert.Equal(1, map.AccessCountForTests(s_warm));

        for (int guard = 0; map.AccessCountForTests(s_hot) != 0 || map.AccessCountForTests(s_warm) != 0; guard++)
        {
            Assert.True(guard < 1_000, "the hot and warm keys were never promoted");
            Assert.True(map.ShardForTests(0).EvictOldest(), "nothing left to evict before the promotion");
            Assert.True(map.AccessCountForTests(s_hot) >= 0 && map.AccessCountForTests(s_warm) >= 0, "a key read on probation was evicted");
        }

        for (int i = 0; i < 200; i++)
        {
            map.Delete(Key(i));
        }

        Assert.Equal(2, map.Count);
    }

    [Fact]
    public void AReadRaisesTheCountToThreeAndNoFurther()
    {
        using ByteMap map = NewMap();
        map.Insert(s_hot, new byte[64]);
        var buffer = new byte[64];
        int[] expected = [1, 2, 3, 3, 3, 3];
        foreach (int count in expected)
        {
            Assert.True(map.TryGet(s_hot, buffer, out _));
            Assert.Equal(count, map.AccessCountForTests(s_hot));
        }

        // An overwrite is a new entry: it starts unread.
        map.Insert(s_hot, new byte[32]);
        Assert.Equal(0, map.AccessCountForTests(s_hot));
    }

    /// <summary>
    /// 64-byte values in 4 KiB chunks move in batches under the lock; 40,000-byte values in 1 MiB chunks (over a batch's
    /// 32 KiB, under an eighth of the payload, so still in a chunk) move outside the lock [C6]: both carry the count.
    /// </summary>
    [Theory]
    [InlineData(4096, 64)]
    [InlineData(1 << 20, 40_000)]
    public void AnEntryReadThreeTimesOutlivesOneReadOnceByTwoLooks(int chunkSize, int valueLength)
    {
        using ByteMap map = NewMap(chunkSize);
        PromoteHotAndWarm(map, valueLength);
        Assert.Equal(0, map.GetStatistics().OversizeBytes); // every entry lives in a chunk
        ReadHotThriceWarmOnce(map, valueLength);

        // Both sit in main's tail chunk: each look seals it and walks it, keeping (and copying) what is still counted.
        var hot = new List<int>();
        var warm = new List<int>();
        for (int look = 0; look < 4; look++)
        {
            Assert.True(map.ShardForTests(0).EvictOldest(), $"look {look}: nothing to evict");
            hot.Add(map.AccessCountForTests(s_hot));
            warm.Add(map.AccessCountForTests(s_warm));
        }

        output.WriteLine($"hot: {string.Join(", ", hot)}; warm: {string.Join(", ", warm)} (-1: evicted); {map.LargeMovesOutsideLockForTests} moves outside the lock");
        Assert.True(valueLength < 32 << 10 || map.LargeMovesOutsideLockForTests >= 4, "the large values were not moved outside the lock");
        Assert.Equal([2, 1, 0, -1], hot);
        Assert.Equal([0, -1, -1, -1], warm);
    }

    [Fact]
    public void ALargeValuesBlockIsKeptByItsCountTheSameWay()
    {
        // 2 KiB values exceed an eighth of a 4 KiB chunk's payload: with a budget each has a block of its own, which
        // eviction keeps by relinking it (no copy), one block per look, oldest first.
        using ByteMap map = NewMap();
        PromoteHotAndWarm(map, valueLength: 2048);
        Assert.True(map.GetStatistics().OversizeBytes >= 2 * 2048, "the large values did not get blocks of their own");
        ReadHotThriceWarmOnce(map, 2048);

        int look = 0, warmLeftAt = -1, hotLeftAt = -1;
        for (; look < 10 && hotLeftAt < 0; look++)
        {
            Assert.True(map.ShardForTests(0).EvictOldest(), $"look {look}: nothing to evict");
            if (warmLeftAt < 0 && map.AccessCountForTests(s_warm) < 0)
            {
                warmLeftAt = look;
            }

            if (map.AccessCountForTests(s_hot) < 0)
            {
                hotLeftAt = look;
            }
        }

        output.WriteLine($"warm left at look {warmLeftAt}, hot at {hotLeftAt}");
        Assert.True(warmLeftAt >= 0 && hotLeftAt >= 0, "eviction never dropped both");

        // Each look takes the oldest block: warm is looked at twice (kept with 1, dropped with 0), hot four times.
        Assert.Equal(3, warmLeftAt);
        Assert.Equal(5, hotLeftAt);
    }

    private static void ReadHotThriceWarmOnce(ByteMap map, int valueLength)
    {
        var buffer = new byte[valueLength];
        for (int i = 0; i < 3; i++)
        {
            Assert.True(map.TryGet(s_hot, buffer, out _));
        }

        Assert.True(map.TryGet(s_warm, buffer, out _));
        Assert.Equal(3, map.AccessCountForTests(s_hot));
        Assert.Equal(1, map.AccessCountForTests(s_warm));
    }
}
