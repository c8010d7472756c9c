using System;
using System.Buffers;
using CMap.Tests.Support;
using Xunit;

namespace CMap.Tests.Operations;

/// <summary>sync.Map's operations, and the non-allocating get-or-insert, against every map configuration.</summary>
public sealed class AtomicOperationsTests
{
    private static readonly byte[] s_key = "k"u8.ToArray();

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void GetAndDeleteReturnsTheValueAndRemovesTheKey(string config)
    {
        using var map = new ByteMap(MapConfigurations.Create(config));
        Assert.Null(map.GetAndDelete(s_key));
        map.Insert(s_key, "v1"u8);
        Assert.Equal("v1"u8.ToArray(), map.GetAndDelete(s_key));
        Assert.False(map.ContainsKey(s_key));
        Assert.Null(map.GetAndDelete(s_key));
        Assert.Equal(0, map.Count);
        Assert.Equal(1, map.GetStatistics().Removals);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void GetAndDeleteIntoATooSmallSpanStillDeletesAndTellsTheLength(string config)
    {
        using var map = new ByteMap(MapConfigurations.Create(config));
        byte[] value = MapConfigurations.Bytes(300, 1);
        map.Insert(s_key, value);
        Span<byte> small = stackalloc byte[10];
        Assert.True(map.TryGetAndDelete(s_key, small, out int length));
        Assert.Equal(300, length);
        Assert.False(map.ContainsKey(s_key)); // the removal happened although the value did not fit

        map.Insert(s_key, value);
        var big = new byte[400];
        Assert.True(map.TryGetAndDelete(s_key, big, out length));
        Assert.Equal(value, big[..length]);
        Assert.False(map.TryGetAndDelete(s_key, big, out length));
        Assert.Equal(0, length);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void GetAndDeleteIntoABufferWriter(string config)
    {
        using var map = new ByteMap(MapConfigurations.Create(config));
        byte[] value = MapConfigurations.Bytes(5000, 2); // an oversize block with tiny chunks
        map.Insert(s_key, value);
        var writer = new ArrayBufferWriter<byte>();
        Assert.True(map.TryGetAndDelete(s_key, writer));
        Assert.Equal(value, writer.WrittenSpan.ToArray());
        Assert.False(map.TryGetAndDelete(s_key, writer));
        Assert.True(map.TryRemove("absent"u8, out _) is false);
        map.Insert(s_key, value);
        Assert.True(map.TryRemove(s_key, out byte[]? removed));
        Assert.Equal(value, removed);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void SwapStoresAndReturnsThePreviousValue(string config)
    {
        using var map = new ByteMap(MapConfigurations.Create(config));
        Assert.Null(map.Swap(s_key, "a"u8));
        Assert.Equal("a"u8.ToArray(), map.Swap(s_key, "bb"u8));
        Assert.Equal("bb"u8.ToArray(), map.Get(s_key));

        Span<byte> one = stackalloc byte[1];
        Assert.True(map.TrySwap(s_key, "ccc"u8, one, out int previousLength));
        Assert.Equal(2, previousLength); // did not fit, and the store still happened
        Assert.Equal("ccc"u8.ToArray(), map.Get(s_key));

        var writer = new ArrayBufferWriter<byte>();
        Assert.True(map.TrySwap(s_key, "d"u8, writer));
        Assert.Equal("ccc"u8.ToArray(), writer.WrittenSpan.ToArray());
        Assert.False(map.TrySwap("new"u8, "x"u8, writer));
        Assert.Equal(2, map.Count);
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void CompareAndSwapAndCompareAndDeleteActOnlyOnTheExpectedValue(string config)
    {
        using var map = new ByteMap(MapConfigurations.Create(config));
        Assert.False(map.CompareAndSwap(s_key, "x"u8, "y"u8)); // absent
        map.Insert(s_key, "x"u8);
        Assert.False(map.CompareAndSwap(s_key, "z"u8, "y"u8));
        Assert.Equal("x"u8.ToArray(), map.Get(s_key));
        Assert.True(map.CompareAndSwap(s_key, "x"u8, "y"u8));
        Assert.Equal("y"u8.ToArray(), map.Get(s_key));
        Assert.False(map.CompareAndDelete(s_key, "x"u8));
        Assert.True(map.ContainsKey(s_key));
        Assert.True(map.CompareAndDelete(s_key, "y"u8));
        Assert.False(map.ContainsKey(s_key));
        Assert.False(map.CompareAndDelete(s_key, "y"u8));

        // The empty value is a value, distinct from absence.
        map.Insert(s_key, ReadOnlySpan<byte>.Empty);
        Assert.True(map.CompareAndSwap(s_key, ReadOnlySpan<byte>.Empty, "e"u8));
    }

    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void NonAllocatingGetOrInsertHandsOverTheStoredValue(string config)
    {
        using var map = new ByteMap(MapConfigurations.Create(config));
        var writer = new ArrayBufferWriter<byte>();
        Assert.True(map.GetOrInsert(s_key, "first"u8, writer));
        Assert.Equal("first"u8.ToArray(), writer.WrittenSpan.ToArray());
        writer.Clear();
        Assert.False(map.GetOrInsert(s_key, "second"u8, writer));
        Assert.Equal("first"u8.ToArray(), writer.WrittenSpan.ToArray());

        int seen = 0;
        Assert.False(map.GetOrInsert(s_key, "third"u8, 7, (span, state) =>
        {
            Assert.Equal(7, state);
            Assert.True(span.SequenceEqual("first"u8));
            seen++;
        }));
        Assert.Equal(1, seen);
    }

    [Fact]
    public void NonAllocatingGetOrInsertAllocatesNothingOnAHit()
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 1 });
        map.Insert(s_key, "value"u8);
        var sink = new CountingWriter();
        map.GetOrInsert(s_key, "other"u8, sink); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            map.GetOrInsert(s_key, "other"u8, sink);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1001 * 5, sink.Written);
    }

    [Fact]
    public void AValueHandedBackStaysIntactAfterItsBlockIsRetired()
    {
        // The removed value lives in an oversize block that the removal retires; reading it happens after the lock
        // is released, inside the region the write path entered first [I11], so the bytes must still be intact.
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 1, ChunkSizes = [1024], MaxRetainedChunkBytes = 0, PoisonFreedChunks = true });
        byte[] value = MapConfigurations.Bytes(64 << 10, 3);
        for (int i = 0; i < 50; i++)
        {
            map.Insert(s_key, value);
            var writer = new ArrayBufferWriter<byte>();
            Assert.True(map.TryGetAndDelete(s_key, writer));
            Assert.Equal(value, writer.WrittenSpan.ToArray());
        }

        Assert.Equal(0, map.Count);
    }

    [Fact]
    public void AWriterCallbackMayUseTheMapItCameFrom()
    {
        // User code runs outside the shard lock, so re-entering the same map (even the same shard) is safe.
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 1 });
        map.Insert(s_key, "v"u8);
        var reentrant = new ReentrantWriter(map);
        Assert.True(map.TryGetAndDelete(s_key, reentrant));
        Assert.True(reentrant.SawOwnWrite);
        Assert.Equal("inside"u8.ToArray(), map.Get("other"u8));
    }

    private sealed class CountingWriter : IBufferWriter<byte>
    {
        private readonly byte[] _buffer = new byte[256];

        public long Written { get; private set; }

        public void Advance(int count) => Written += count;

        public Memory<byte> GetMemory(int sizeHint = 0) => _buffer;

        public Span<byte> GetSpan(int sizeHint = 0) => _buffer;
    }

    private sealed class ReentrantWriter(ByteMap map) : IBufferWriter<byte>
    {
        private readonly byte[] _buffer = new byte[256];

        public bool SawOwnWrite { get; private set; }

        public void Advance(int count)
        {
            map.Insert("other"u8, "inside"u8);
            SawOwnWrite = map.ContainsKey("other"u8) && !map.ContainsKey(s_key);
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => _buffer;

        public Span<byte> GetSpan(int sizeHint = 0) => _buffer;
    }
}
