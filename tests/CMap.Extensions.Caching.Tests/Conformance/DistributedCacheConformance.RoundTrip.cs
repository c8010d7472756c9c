using System;
using System.Buffers;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Stores;
using CMap.Extensions.Caching.Tests.Support;
using Microsoft.Extensions.Caching.Distributed;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Conformance;

// Round trips: every size through every write path, read back through every read path; sequences of every shape.
public abstract partial class DistributedCacheConformance<TStore>
{
    [Theory]
    [MemberData(nameof(ConformanceData.SizesAndWritePaths), MemberType = typeof(ConformanceData))]
    public async Task A_value_of_every_size_round_trips_through_every_write_and_read_path(int size, string writePath)
    {
        using CacheSession session = Open();
        byte[] payload = Payloads.Random(size, TestSeed.For(Output, $"round-trip {size} {writePath}"));
        string key = session.Key("value");

        await WriteAsync(session.Cache, writePath, key, payload, NoExpiry);

        byte[]? read = await ReadAllWaysAsync(session.Cache, key);
        Assert.NotNull(read);
        AssertSameBytes(payload, read);
    }

    [Theory]
    [MemberData(nameof(ConformanceData.SequenceShapes), MemberType = typeof(ConformanceData))]
    public async Task A_sequence_of_any_shape_is_stored_as_its_bytes_and_copied_at_the_write(string shape, int size, bool async)
    {
        using CacheSession session = Open();
        byte[] payload = Payloads.Random(size, TestSeed.For(Output, $"sequence {shape} {size}"));
        string key = session.Key("sequence");

        using (SequenceHolder holder = Sequences.Build(shape, payload))
        {
            ReadOnlySequence<byte> sequence = holder.Sequence;
            Assert.Equal(size, sequence.Length);
            Output.WriteLine($"{shape}: {size} bytes, single segment: {sequence.IsSingleSegment}");
            if (async)
            {
                await session.Cache.SetAsync(key, sequence, NoExpiry, Ct);
            }
            else
            {
                session.Cache.Set(key, sequence, NoExpiry);
            }

            // The store must have copied the bytes: scribble over the caller's memory before anything reads it.
            foreach (ReadOnlyMemory<byte> segment in sequence)
            {
                System.Runtime.InteropServices.MemoryMarshal.AsMemory(segment).Span.Fill(0x5A);
            }
        }

        byte[]? read = await ReadAllWaysAsync(session.Cache, key);
        Assert.NotNull(read);
        AssertSameBytes(payload, read);
    }

    [Fact]
    public async Task TryGet_appends_after_what_the_writer_already_holds()
    {
        using CacheSession session = Open();
        byte[] payload = Payloads.Random(5000, TestSeed.For(Output, "append"));
        string key = session.Key("append");
        session.Cache.Set(key, payload, NoExpiry);

        var writer = new ArrayBufferWriter<byte>(16);
        writer.Write("head"u8);
        Assert.True(session.Cache.TryGet(key, writer));
        Assert.True(await session.Cache.TryGetAsync(key, writer, Ct));

        Assert.Equal(4 + (2 * payload.Length), writer.WrittenCount);
        Assert.True(writer.WrittenSpan[..4].SequenceEqual("head"u8), "TryGet overwrote the writer's earlier bytes");
        AssertSameBytes(payload, writer.WrittenSpan.Slice(4, payload.Length));
        AssertSameBytes(payload, writer.WrittenSpan.Slice(4 + payload.Length));
    }

    [Fact]
    public async Task Get_returns_a_fresh_array_each_time()
    {
        using CacheSession session = Open();
        string key = session.Key("fresh");
        byte[] payload = [1, 2, 3, 4];
        await session.Cache.SetAsync(key, payload, NoExpiry, Ct);
        payload[0] = 99; // the caller's array after the write is the caller's

        byte[]? first = session.Cache.Get(key);
        Assert.NotNull(first);
        Assert.Equal([1, 2, 3, 4], first);
        first[1] = 42;
        Assert.Equal([1, 2, 3, 4], await session.Cache.GetAsync(key, Ct));
    }

    /// <summary>Writes <paramref name="payload"/> through one of the four write paths.</summary>
    protected static async Task WriteAsync(IBufferDistributedCache cache, string path, string key, byte[] payload, DistributedCacheEntryOptions options)
    {
        switch (path)
        {
            case "Set(byte[])":
                cache.Set(key, payload, options);
                break;
            case "SetAsync(byte[])":
                await cache.SetAsync(key, payload, options);
                break;
            case "Set(sequence)":
                cache.Set(key, new ReadOnlySequence<byte>(payload), options);
                break;
            case "SetAsync(sequence)":
                await cache.SetAsync(key, new ReadOnlySequence<byte>(payload), options);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(path), path, null);
        }
    }
}
