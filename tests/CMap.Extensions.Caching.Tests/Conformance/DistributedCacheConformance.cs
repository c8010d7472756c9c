using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Stores;
using Microsoft.Extensions.Caching.Distributed;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Conformance;

/// <summary>
/// The IDistributedCache / IBufferDistributedCache contract, written from the interfaces
/// (Microsoft.Extensions.Caching.Abstractions 10.0.x) and run unchanged against every store: CMap's adapter,
/// RedisCache on redis-server and RedisCache on Garnet (<see cref="CMapConformanceTests"/>, <see cref="RedisServerConformanceTests"/>,
/// <see cref="GarnetConformanceTests"/>). The parts are split
/// by concern over several files: round trips and sequence shapes, keys (missing, removed, refreshed, overwritten),
/// expiry, concurrency and cancellation.
/// <para>
/// A store that cannot run here (no redis-server on PATH) skips every case with its reason; cases that need a fake
/// clock skip on the servers, whose clocks cannot be faked, and say so.
/// </para>
/// </summary>
public abstract partial class DistributedCacheConformance<TStore>(TStore store, ITestOutputHelper output) : IClassFixture<TStore>
    where TStore : CacheStore
{
    protected static readonly DistributedCacheEntryOptions NoExpiry = new();

    protected TStore Store { get; } = store;

    /// <summary>The test's token (cancelled when the run is aborted).</summary>
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected ITestOutputHelper Output { get; } = output;

    /// <summary>A session for the calling test; skips the test when the store cannot run here.</summary>
    protected CacheSession Open([CallerMemberName] string test = "")
    {
        if (Store.SkipReason is string reason)
        {
            Assert.Skip($"{Store.Name}: {reason}");
        }

        Output.WriteLine($"store: {Store.Name}");
        return Store.OpenSession(test);
    }

    /// <summary>A session on a store whose clock can be faked; skips, saying why, on the others.</summary>
    protected CacheSession OpenWithFakeClock([CallerMemberName] string test = "")
    {
        if (Store.SkipReason is null && Store.NoFakeClockReason is string reason)
        {
            Assert.Skip($"{Store.Name}: {reason}");
        }

        return Open(test);
    }

    /// <summary>What every read path returns for <paramref name="key"/>: asserts they agree, and returns the value (null: missing).</summary>
    protected static async Task<byte[]?> ReadAllWaysAsync(IBufferDistributedCache cache, string key)
    {
        byte[]? viaGet = cache.Get(key);
        byte[]? viaGetAsync = await cache.GetAsync(key);

        var writer = new ArrayBufferWriter<byte>();
        bool viaTryGet = cache.TryGet(key, writer);
        var asyncWriter = new ArrayBufferWriter<byte>();
        bool viaTryGetAsync = await cache.TryGetAsync(key, asyncWriter);

        if (viaGet is null)
        {
            Assert.Null(viaGetAsync);
            Assert.False(viaTryGet, "Get said missing, TryGet found it");
            Assert.False(viaTryGetAsync, "Get said missing, TryGetAsync found it");
            Assert.Equal(0, writer.WrittenCount);
            Assert.Equal(0, asyncWriter.WrittenCount);
            return null;
        }

        Assert.NotNull(viaGetAsync);
        Assert.True(viaTryGet, "Get found it, TryGet said missing");
        Assert.True(viaTryGetAsync, "Get found it, TryGetAsync said missing");
        AssertSameBytes(viaGet, viaGetAsync);
        AssertSameBytes(viaGet, writer.WrittenSpan);
        AssertSameBytes(viaGet, asyncWriter.WrittenSpan);
        return viaGet;
    }

    /// <summary>A missing key, on the buffer path: TryGet returns false and writes nothing, even to a writer that holds bytes.</summary>
    protected static void AssertMissingOnBufferPath(IBufferDistributedCache cache, string key)
    {
        var writer = new ArrayBufferWriter<byte>();
        writer.Write("prefix"u8);
        Assert.False(cache.TryGet(key, writer), $"TryGet found '{key}'");
        Assert.Equal(6, writer.WrittenCount);
        Assert.True(writer.WrittenSpan.SequenceEqual("prefix"u8), "TryGet of a missing key changed what the writer held");
    }

    protected static void AssertSameBytes(byte[] expected, byte[]? actual)
    {
        Assert.NotNull(actual);
        AssertSameBytes(expected.AsSpan(), actual.AsSpan());
    }

    protected static void AssertSameBytes(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        int at = expected.CommonPrefixLength(actual);
        Assert.True(at == expected.Length, $"the bytes differ first at offset {at} of {expected.Length}");
    }
}
