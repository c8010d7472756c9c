using System;
using CMap;
using Xunit;

namespace CMap.Tests;

public sealed class CMapConfigTests
{
    public static TheoryData<string, Func<CMapConfig>> BadConfigs => new()
    {
        { "ShardCount", () => new CMapConfig { ShardCount = 3 } },
        { "ShardCount", () => new CMapConfig { ShardCount = -1 } },
        { "ShardCount", () => new CMapConfig { ShardCount = 1 << 17 } },
        { "MaxValueLength", () => new CMapConfig { MaxValueLength = -1 } },
        { "MaxValueLength", () => new CMapConfig { MaxValueLength = CMapConfig.MaxValueLengthLimit + 1 } },
        { "ChunkSizes", () => new CMapConfig { ChunkSizes = [] } },
        { "ChunkSizes", () => new CMapConfig { ChunkSizes = [4096, 1024] } },
        { "ChunkSizes", () => new CMapConfig { ChunkSizes = [3000] } },
        { "ChunkSizes", () => new CMapConfig { ChunkSizes = [512] } },
        { "ChunkSizes", () => new CMapConfig { ChunkSizes = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072] } },
        { "InitialCapacity", () => new CMapConfig { InitialCapacity = -5 } },
        { "MaxRetainedChunkBytes", () => new CMapConfig { MaxRetainedChunkBytes = -1 } },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void InvalidSettingsAreRejectedNamingTheField(string field, Func<CMapConfig> make)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => new ByteMap(make()));
        Assert.Equal(field, ex.ParamName);
        Assert.Contains("CMapConfig." + field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NullConfigIsRejected() => Assert.Throws<ArgumentNullException>(() => new ByteMap(null!));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(1024)]
    public void ShardCountIsHonoured(int shards)
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = shards });
        Assert.Equal(shards, map.ShardCount);
    }

    [Fact]
    public void DefaultShardCountIsAPowerOfTwoScaledToTheMachine()
    {
        using var map = new ByteMap();
        Assert.True(System.Numerics.BitOperations.IsPow2(map.ShardCount));
        Assert.InRange(map.ShardCount, 32, 1024);
        Assert.True(map.ShardCount >= Environment.ProcessorCount);
    }

    [Theory]
    [InlineData(1_000)]
    [InlineData(1_000_000)]
    [InlineData(100_000_000)]
    public void DefaultShardCountFollowsInitialCapacity(long capacity)
    {
        using var map = new ByteMap(new CMapConfig { InitialCapacity = capacity, BackgroundCompaction = false });
        int cores = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount);
        Assert.True(System.Numerics.BitOperations.IsPow2(map.ShardCount));
        Assert.InRange(map.ShardCount, Math.Min(4 * cores, 1024), 1024);
        if (capacity / map.ShardCount > 8192)
        {
            Assert.Equal(1024, map.ShardCount);
        }

        if (map.ShardCount > 4 * cores)
        {
            Assert.True(capacity / map.ShardCount >= 4096, $"{capacity} entries over {map.ShardCount} shards is too thin");
        }
    }

    [Fact]
    public void EachMapDrawsItsOwnSeedUnlessOneIsSet()
    {
        using var a = new ByteMap();
        using var b = new ByteMap();
        Assert.NotEqual(a.SeedForTests, b.SeedForTests);
        using var c = new ByteMap(new CMapConfig { Seed = 42 });
        Assert.Equal(42ul, c.SeedForTests);
    }
}
