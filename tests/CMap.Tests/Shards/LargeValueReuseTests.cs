using System;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Shards;

/// <summary>
/// Large values live in blocks of their own; a block freed by an overwrite or delete is reused by the next large
/// value that fits it (after its grace period), is counted as the map's native memory meanwhile, and is given back by
/// Compact, Clear and Dispose.
/// </summary>
public sealed class LargeValueReuseTests(ITestOutputHelper output)
{
    private const int Large = 300_000; // above half of every default chunk class's payload: an oversize block

    private static byte[] Value(int seed, int length = Large)
    {
        var v = new byte[length];
        new Random(seed).NextBytes(v);
        return v;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void OverwritingLargeValuesReusesTheirBlocks(int keys)
    {
        using var map = new ByteMap(new CMapConfig { Seed = 3, BackgroundCompaction = false });
        for (int k = 0; k < keys; k++)
        {
            map.Insert(BitConverter.GetBytes(k), Value(k));
        }

        long allocations = map.ArenaForTests.Allocations;
        const int Rounds = 50;
        for (int round = 1; round <= Rounds; round++)
        {
            for (int k = 0; k < keys; k++)
            {
                byte[] v = Value((round * 1000) + k, Large - (round % 7)); // a little smaller each time: still fits
                map.Insert(BitConverter.GetBytes(k), v);
                Assert.Equal(v, map.Get(BitConverter.GetBytes(k)));
            }
        }

        // Retired blocks reach the pool when the retire list drains (every DrainBytesThreshold bytes retired), so
        // until the first drains a few overwrites allocate (the bound allows two drains' worth); after that, every one reuses.
        long inFlight = 2 * ((CMap.Buffer.RetireList.DrainBytesThreshold / Large) + 2);
        long fresh = map.ArenaForTests.Allocations - allocations;
        long reused = map.BlockPoolForTests.Reused;
        output.WriteLine($"{keys} keys x {Rounds} overwrites: {reused} blocks reused, {fresh} fresh allocations (at most {inFlight} expected)");
        Assert.True(fresh <= inFlight, $"{fresh} fresh allocations for {Rounds * keys} overwrites");
        Assert.True(reused >= (Rounds * keys) - inFlight, $"only {reused} of {Rounds * keys} overwrites reused a block");
    }

    [Fact]
    public void PooledBlocksAreNativeBytesTheMapHoldsAndCompactClearAndDisposeGiveThemBack()
    {
        var map = new ByteMap(new CMapConfig { Seed = 4, BackgroundCompaction = false });
        for (int k = 0; k < 8; k++)
        {
            map.Insert(BitConverter.GetBytes(k), Value(k));
        }

        for (int k = 0; k < 8; k++)
        {
            Assert.True(map.Delete(BitConverter.GetBytes(k)));
        }

        map.RetiredForTests.DrainRetiredSoFar();
        long pooled = map.BlockPoolForTests.RetainedBytes;
        Assert.True(pooled >= 8L * Large, $"pooled {pooled}");
        CMapStatistics s = map.GetStatistics();
        Assert.Equal(0, s.OversizeBytes);
        Assert.True(s.NativeBytes >= pooled + s.IndexBytes, $"native {s.NativeBytes} must include the {pooled} pooled bytes");

        map.Compact();
        Assert.Equal(0, map.BlockPoolForTests.RetainedBytes);
        Assert.Equal(map.GetStatistics().NativeBytes, map.GetStatistics().IndexBytes + map.GetStatistics().ChunkBytes);

        map.Insert([1], Value(1));
        map.Clear();
        Assert.Equal(0, map.BlockPoolForTests.RetainedBytes);

        map.Insert([2], Value(2));
        map.Delete([2]);
        map.RetiredForTests.DrainRetiredSoFar();
        Assert.True(map.BlockPoolForTests.RetainedBytes > 0);
        NativeArenaView arena = new(map);
        map.Dispose();
        Assert.Equal(0, arena.Outstanding);
    }

    [Fact]
    public void ABlockHeldByAReaderIsNotReusedUntilItLeaves()
    {
        using var map = new ByteMap(new CMapConfig { Seed = 5, BackgroundCompaction = false });
        byte[] key = [7];
        byte[] original = Value(70);
        map.Insert(key, original);
        int overwritesWhileParked = 0;
        bool intact = map.TryRead(key, map, (span, m) =>
        {
            // While this read holds the old block, another thread overwrites the key again and again: every
            // overwrite retires a block, and none may be reused (or freed) before this callback returns.
            Task writer = Task.Run(() =>
            {
                for (int i = 0; i < 20; i++)
                {
                    m.Insert(key, Value(1000 + i));
                    Interlocked.Increment(ref overwritesWhileParked);
                }
            });
            Assert.True(writer.Wait(TimeSpan.FromSeconds(30)), "the writer did not finish");
            Assert.True(span.SequenceEqual(original), "the parked reader's value changed under it");
        });

        Assert.True(intact);
        Assert.Equal(20, overwritesWhileParked);
        Assert.Equal(Value(1019), map.Get(key));

        // Once the reader has left, the blocks it held back are reused.
        map.RetiredForTests.DrainRetiredSoFar();
        long reused = map.BlockPoolForTests.Reused;
        map.Insert(key, Value(2000));
        Assert.Equal(reused + 1, map.BlockPoolForTests.Reused);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UnderABudgetPooledBlocksAreGivenUpBeforeAnythingIsEvicted(bool background)
    {
        const long Budget = 64L << 20;
        using var map = new ByteMap(new CMapConfig { Seed = 6, MaxBytes = Budget, BackgroundCompaction = background, ShardCount = 4 });
        for (int k = 0; k < 2; k++)
        {
            map.Insert(BitConverter.GetBytes(-1 - k), Value(k));
        }

        for (int k = 0; k < 2; k++)
        {
            Assert.True(map.Delete(BitConverter.GetBytes(-1 - k)));
        }

        map.RetiredForTests.DrainRetiredSoFar();
        long pooled = map.BlockPoolForTests.RetainedBytes;
        Assert.True(pooled > 0, "nothing was pooled: the test would prove nothing");

        // Fill towards the budget with small entries: the pooled blocks count against it, and must go first.
        byte[] small = Value(9, 1000);
        long firstEvictionAt = -1;
        long pooledAtFirstEviction = -1;
        for (int i = 0; i < 200_000 && firstEvictionAt < 0; i++)
        {
            map.Insert(BitConverter.GetBytes(i), small);
            if (i % 64 == 0)
            {
                CMapStatistics s = map.GetStatistics();
                if (s.Evictions > 0)
                {
                    firstEvictionAt = i;
                    pooledAtFirstEviction = map.BlockPoolForTests.RetainedBytes;
                }
            }
        }

        output.WriteLine($"pooled {pooled:N0} B; first eviction seen after {firstEvictionAt:N0} small inserts, with {pooledAtFirstEviction:N0} B still pooled");
        Assert.True(firstEvictionAt > 0, "the budget never made the map evict");
        Assert.Equal(0, pooledAtFirstEviction);
        Assert.True(map.GetStatistics().NativeBytes <= Budget + (Budget / 20), "the budget's bound");
    }

    /// <summary>Reads the arena's count after the map is gone (the map's own property throws once disposed).</summary>
    private readonly struct NativeArenaView(ByteMap map)
    {
        private readonly CMap.Buffer.NativeArena _arena = map.ArenaForTests;

        public long Outstanding => _arena.OutstandingBytes;
    }
}
