using System;
using System.Buffers;
using System.Collections.Generic;
using CMap;
using CMap.Tests.Support;
using Xunit;
using static CMap.Tests.Support.MapConfigurations;

namespace CMap.Tests;

/// <summary>The map's contract, run against every configuration in <see cref="MapConfigurations"/>.</summary>
public sealed class ByteMapContractTests
{
    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void InsertThenGetReturnsTheValue(string config)
    {
        using var map = new ByteMap(Create(config));
        Assert.True(map.Insert("alpha"u8, "one"u8));
        Assert.Equal("one"u8.ToArray(), map.Get("alpha"u8));
        Assert.True(map.ContainsKey("alpha"u8));
        Assert.Equal(1, map.Count);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void InsertTellsAddFromOverwrite(string config)
    {
        using var map = new ByteMap(Create(config));
        Assert.True(map.Insert("k"u8, "v1"u8));
        Assert.False(map.Insert("k"u8, "v2-longer"u8));
        Assert.Equal("v2-longer"u8.ToArray(), map.Get("k"u8));
        Assert.Equal(1, map.Count);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void MissesAreNotErrors(string config)
    {
        using var map = new ByteMap(Create(config));
        map.Insert("present"u8, "x"u8);
        Assert.Null(map.Get("absent"u8));
        Assert.False(map.ContainsKey("absent"u8));
        Assert.False(map.TryGet("absent"u8, new byte[8], out int written));
        Assert.Equal(0, written);
        Assert.False(map.Delete("absent"u8));
        Assert.False(map.TryRead("absent"u8, 0, static (_, _) => throw new InvalidOperationException("called on a miss")));
        var writer = new ArrayBufferWriter<byte>();
        Assert.False(map.TryGet("absent"u8, writer));
        Assert.Equal(0, writer.WrittenCount);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void DeleteRemovesOnlyThatKey(string config)
    {
        using var map = new ByteMap(Create(config));
        map.Insert("a"u8, "1"u8);
        map.Insert("b"u8, "2"u8);
        Assert.True(map.Delete("a"u8));
        Assert.False(map.Delete("a"u8));
        Assert.Null(map.Get("a"u8));
        Assert.Equal("2"u8.ToArray(), map.Get("b"u8));
        Assert.Equal(1, map.Count);
        Assert.True(map.Insert("a"u8, "3"u8));
        Assert.Equal("3"u8.ToArray(), map.Get("a"u8));
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void EmptyKeyAndEmptyValueAreValid(string config)
    {
        using var map = new ByteMap(Create(config));
        Assert.True(map.Insert(ReadOnlySpan<byte>.Empty, "empty-key"u8));
        Assert.True(map.Insert("empty-value"u8, ReadOnlySpan<byte>.Empty));
        Assert.Equal("empty-key"u8.ToArray(), map.Get(ReadOnlySpan<byte>.Empty));
        Assert.Equal(Array.Empty<byte>(), map.Get("empty-value"u8));
        Assert.True(map.TryGet("empty-value"u8, Span<byte>.Empty, out int written));
        Assert.Equal(0, written);
        Assert.True(map.Delete(ReadOnlySpan<byte>.Empty));
        Assert.False(map.ContainsKey(ReadOnlySpan<byte>.Empty));
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void TryGetReportsTheNeededLengthWhenTheBufferIsTooSmall(string config)
    {
        using var map = new ByteMap(Create(config));
        byte[] value = Bytes(100, 7);
        map.Insert("k"u8, value);
        var small = new byte[99];
        Assert.False(map.TryGet("k"u8, small, out int needed));
        Assert.Equal(100, needed);
        Assert.All(small, b => Assert.Equal(0, b));
        var exact = new byte[100];
        Assert.True(map.TryGet("k"u8, exact, out int written));
        Assert.Equal(100, written);
        Assert.Equal(value, exact);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void BufferWriterAndCallbackSeeTheStoredBytes(string config)
    {
        using var map = new ByteMap(Create(config));
        byte[] value = Bytes(3000, 11);
        map.Insert("k"u8, value);
        var writer = new ArrayBufferWriter<byte>();
        Assert.True(map.TryGet("k"u8, writer));
        Assert.Equal(value, writer.WrittenSpan.ToArray());

        var seen = new List<byte[]>();
        Assert.True(map.TryRead("k"u8, seen, static (span, list) => list.Add(span.ToArray())));
        Assert.Equal(value, Assert.Single(seen));
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void GetOrInsertAddsOnceThenReturnsTheStoredValue(string config)
    {
        using var map = new ByteMap(Create(config));
        byte[] first = map.GetOrInsert("k"u8, "first"u8, out bool inserted1);
        byte[] second = map.GetOrInsert("k"u8, "second"u8, out bool inserted2);
        Assert.True(inserted1);
        Assert.False(inserted2);
        Assert.Equal("first"u8.ToArray(), first);
        Assert.Equal("first"u8.ToArray(), second);
        Assert.False(map.TryAdd("k"u8, "third"u8));
        Assert.True(map.TryAdd("k2"u8, "third"u8));
        Assert.Equal("first"u8.ToArray(), map.Get("k"u8));
        Assert.Equal(2, map.Count);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void ManyKeysSurviveGrowthOverwritesAndDeletes(string config)
    {
        const int n = 20_000;
        using var map = new ByteMap(Create(config));
        for (int i = 0; i < n; i++)
        {
            Assert.True(map.Insert(Key(i), Bytes(i % 300, i)));
        }

        for (int i = 0; i < n; i += 3)
        {
            Assert.False(map.Insert(Key(i), Bytes((i % 300) + 1, -i)));
        }

        for (int i = 1; i < n; i += 3)
        {
            Assert.True(map.Delete(Key(i)));
        }

        long expectedLive = 0;
        for (int i = 0; i < n; i++)
        {
            byte[]? v = map.Get(Key(i));
            switch (i % 3)
            {
                case 0:
                    Assert.Equal(Bytes((i % 300) + 1, -i), v);
                    expectedLive += EntrySize(8, (i % 300) + 1);
                    break;
                case 1:
                    Assert.Null(v);
                    break;
                default:
                    Assert.Equal(Bytes(i % 300, i), v);
                    expectedLive += EntrySize(8, i % 300);
                    break;
            }
        }

        CMapStatistics stats = map.GetStatistics();
        Assert.Equal(n - ((n + 1) / 3), map.Count);
        Assert.Equal(map.Count, stats.Count);
        Assert.Equal(expectedLive, stats.LiveBytes);
        Assert.True(stats.IndexRebuilds > 0, "20,000 keys should have grown the index");
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void LargeValuesGetTheirOwnBlockAndAreFreedWhenReplaced(string config)
    {
        using var map = new ByteMap(Create(config));
        byte[] big = Bytes(3 << 20, 5);
        map.Insert("big"u8, big);
        Assert.Equal(big, map.Get("big"u8));
        Assert.True(map.GetStatistics().OversizeBytes >= big.Length);
        map.Insert("big"u8, "small"u8);
        Assert.Equal(0, map.GetStatistics().OversizeBytes);
        Assert.Equal("small"u8.ToArray(), map.Get("big"u8));
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void KeyAtTheLimitWorksAndOneByteMoreThrowsNamingTheLimit(string config)
    {
        using var map = new ByteMap(Create(config));
        byte[] maxKey = Bytes(ByteMap.MaxKeyLength, 1);
        map.Insert(maxKey, "v"u8);
        Assert.Equal("v"u8.ToArray(), map.Get(maxKey));

        byte[] tooLong = Bytes(ByteMap.MaxKeyLength + 1, 1);
        var ex = Assert.Throws<ArgumentException>(() => map.Insert(tooLong, "v"u8));
        Assert.Contains("65,535", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MaxKeyLength", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => map.Delete(tooLong));
        // Reads throw too: a key over the limit is bad input, not an expected miss (failure 7).
        Assert.Contains("MaxKeyLength", Assert.Throws<ArgumentException>(() => map.Get(tooLong)).Message, StringComparison.Ordinal);
        Assert.Equal(1, map.Count);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void ValueOverTheLimitThrowsAndLeavesTheOldValue(string config)
    {
        CMapConfig c = Create(config);
        using var map = new ByteMap(new CMapConfig { ShardCount = c.ShardCount, Seed = c.Seed, ChunkSizes = c.ChunkSizes, MaxValueLength = 1000 });
        map.Insert("k"u8, "old"u8);
        var ex = Assert.Throws<ArgumentException>(() => map.Insert("k"u8, new byte[1001]));
        Assert.Contains("MaxValueLength", ex.Message, StringComparison.Ordinal);
        Assert.Contains("1,000", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => map.GetOrInsert("k2"u8, new byte[1001], out _));
        Assert.Equal("old"u8.ToArray(), map.Get("k"u8));
        Assert.Equal(1, map.Count);
        map.Insert("k"u8, new byte[1000]);
        Assert.Equal(1000, map.Get("k"u8)!.Length);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void ClearEmptiesTheMapAndReturnsMemory(string config)
    {
        using var map = new ByteMap(Create(config));
        for (int i = 0; i < 5000; i++)
        {
            map.Insert(Key(i), Bytes(64, i));
        }

        long before = map.GetStatistics().NativeBytes;
        map.Clear();
        map.RetiredForTests.TryDrain();
        CMapStatistics after = map.GetStatistics();
        Assert.Equal(0, map.Count);
        Assert.Equal(0, after.LiveBytes);
        Assert.Equal(0, after.ChunkBytes);
        Assert.True(after.NativeBytes < before, $"native bytes {after.NativeBytes} should drop below {before}");
        Assert.Null(map.Get(Key(1)));
        map.Insert(Key(1), "again"u8);
        Assert.Equal("again"u8.ToArray(), map.Get(Key(1)));
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void EveryCallAfterDisposeThrowsAndAllNativeMemoryIsFreed(string config)
    {
        var map = new ByteMap(Create(config));
        for (int i = 0; i < 2000; i++)
        {
            map.Insert(Key(i), Bytes(i % 500, i));
        }

        map.Insert("big"u8, new byte[1 << 20]);
        map.Dispose();
        map.Dispose();
        Assert.Equal(0, map.ArenaForTests.OutstandingBytes);
        Assert.Throws<ObjectDisposedException>(() => map.Insert("k"u8, "v"u8));
        Assert.Throws<ObjectDisposedException>(() => map.Get("k"u8));
        Assert.Throws<ObjectDisposedException>(() => map.TryGet("k"u8, new byte[4], out _));
        Assert.Throws<ObjectDisposedException>(() => map.TryGet("k"u8, new ArrayBufferWriter<byte>()));
        Assert.Throws<ObjectDisposedException>(() => map.TryRead("k"u8, 0, static (_, _) => { }));
        Assert.Throws<ObjectDisposedException>(() => map.ContainsKey("k"u8));
        Assert.Throws<ObjectDisposedException>(() => map.Delete("k"u8));
        Assert.Throws<ObjectDisposedException>(() => map.GetOrInsert("k"u8, "v"u8, out _));
        Assert.Throws<ObjectDisposedException>(() => map.TryAdd("k"u8, "v"u8));
        Assert.Throws<ObjectDisposedException>(() => map.Count);
        Assert.Throws<ObjectDisposedException>(map.Clear);
        Assert.Throws<ObjectDisposedException>(() => map.GetStatistics());
    }

    [Fact]
    public void DisposeFromInsideAReadCallbackIsRefused()
    {
        using var map = new ByteMap(Create(OneShard));
        map.Insert("k"u8, "v"u8);
        Assert.Throws<InvalidOperationException>(() => map.TryRead("k"u8, map, static (_, m) => m.Dispose()));
        Assert.Equal("v"u8.ToArray(), map.Get("k"u8));
    }

    [Fact]
    public void NestedReadsInsideACallbackWork()
    {
        using var map = new ByteMap(Create(ManyShards));
        map.Insert("outer"u8, "inner"u8);
        map.Insert("inner"u8, "value"u8);
        byte[]? nested = null;
        map.TryRead("outer"u8, map, (span, m) => nested = m.Get(span));
        Assert.Equal("value"u8.ToArray(), nested);
    }

    [Fact]
    public void TwoKeysWithTheSameFullHashBothStay()
    {
        // HashMask = 0: every key hashes to 0, so every key has the same tag, shard and first slot.
        using var map = new ByteMap(new CMapConfig { ShardCount = 4, HashMask = 0 });
        for (int i = 0; i < 200; i++)
        {
            Assert.True(map.Insert(Key(i), Bytes(10, i)));
        }

        for (int i = 0; i < 200; i += 2)
        {
            Assert.True(map.Delete(Key(i)));
        }

        for (int i = 0; i < 200; i++)
        {
            Assert.Equal(i % 2 == 0 ? null : Bytes(10, i), map.Get(Key(i)));
            Assert.Equal(i % 2 == 1, map.ContainsKey(Key(i)));
        }

        Assert.Equal(100, map.Count);
    }
}
