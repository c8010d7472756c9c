using System;
using System.Buffers;
using System.Text;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Stores;
using CMap.Extensions.Caching.Tests.Support;
using Microsoft.Extensions.Caching.Distributed;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Conformance;

// Keys: missing, removed, refreshed, overwritten, and what counts as the same key; arguments the contract rejects.
public abstract partial class DistributedCacheConformance<TStore>
{
    [Fact]
    public async Task A_missing_key_reads_as_missing_on_every_path()
    {
        using CacheSession session = Open();
        string key = session.Key("never-written");
        Assert.Null(await ReadAllWaysAsync(session.Cache, key));
        AssertMissingOnBufferPath(session.Cache, key);
    }

    [Fact]
    public async Task Remove_deletes_the_key_and_only_that_key()
    {
        using CacheSession session = Open();
        string a = session.Key("a"), b = session.Key("b"), c = session.Key("c");
        session.Cache.Set(a, [1], NoExpiry);
        session.Cache.Set(b, [2], NoExpiry);
        session.Cache.Set(c, [3], NoExpiry);

        session.Cache.Remove(a);
        await session.Cache.RemoveAsync(b, Ct);

        Assert.Null(await ReadAllWaysAsync(session.Cache, a));
        Assert.Null(await ReadAllWaysAsync(session.Cache, b));
        AssertMissingOnBufferPath(session.Cache, a);
        Assert.Equal([3], await ReadAllWaysAsync(session.Cache, c));
    }

    [Fact]
    public async Task Removing_or_refreshing_a_missing_key_is_not_an_error_and_creates_nothing()
    {
        using CacheSession session = Open();
        string key = session.Key("ghost");
        session.Cache.Remove(key);
        await session.Cache.RemoveAsync(key, Ct);
        session.Cache.Refresh(key);
        await session.Cache.RefreshAsync(key, Ct);
        Assert.Null(await ReadAllWaysAsync(session.Cache, key));
    }

    [Fact]
    public async Task Refresh_of_an_entry_without_expiry_keeps_its_value()
    {
        using CacheSession session = Open();
        string key = session.Key("plain");
        byte[] payload = Payloads.Random(700, TestSeed.For(Output, "refresh-plain"));
        session.Cache.Set(key, payload, NoExpiry);
        session.Cache.Refresh(key);
        await session.Cache.RefreshAsync(key, Ct);
        AssertSameBytes(payload, await ReadAllWaysAsync(session.Cache, key));
    }

    [Fact]
    public async Task A_key_can_be_written_again_after_it_was_removed()
    {
        using CacheSession session = Open();
        string key = session.Key("again");
        session.Cache.Set(key, [1, 1], NoExpiry);
        session.Cache.Remove(key);
        session.Cache.Set(key, [2, 2, 2], NoExpiry);
        Assert.Equal([2, 2, 2], await ReadAllWaysAsync(session.Cache, key));
    }

    [Theory]
    [InlineData(10, 100_000)]
    [InlineData(100_000, 10)]
    [InlineData(0, 5000)]
    [InlineData(5000, 0)]
    public async Task An_overwrite_replaces_the_whole_value(int firstLength, int secondLength)
    {
        using CacheSession session = Open();
        int seed = TestSeed.For(Output, $"overwrite {firstLength} {secondLength}");
        string key = session.Key("overwritten");
        session.Cache.Set(key, Payloads.Random(firstLength, seed), NoExpiry);
        byte[] second = Payloads.Random(secondLength, seed + 1);
        await session.Cache.SetAsync(key, new ReadOnlySequence<byte>(second), NoExpiry, Ct);
        AssertSameBytes(second, await ReadAllWaysAsync(session.Cache, key));
    }

    [Fact]
    public async Task Keys_are_exact_strings_case_and_unicode_included()
    {
        using CacheSession session = Open();
        string[] keys =
        [
            session.Key("Key"),
            session.Key("key"),
            session.Key("KEY"),
            session.Key("ключ-鍵-🔑"),
            session.Key("key "),
            session.Key(new string('k', 300)),
            session.Key(new string('k', 301)),
        ];
        for (int i = 0; i < keys.Length; i++)
        {
            session.Cache.Set(keys[i], Encoding.UTF8.GetBytes(keys[i]), NoExpiry);
        }

        foreach (string key in keys)
        {
            Assert.Equal(key, Encoding.UTF8.GetString(await ReadAllWaysAsync(session.Cache, key) ?? []));
        }

        Assert.Null(session.Cache.Get(session.Key("ключ-鍵")));
    }

    [Fact]
    public async Task An_absolute_expiration_not_in_the_future_is_rejected_and_changes_nothing()
    {
        using CacheSession session = Open();
        string key = session.Key("past");
        session.Cache.Set(key, [7, 7], NoExpiry);
        var past = new DistributedCacheEntryOptions { AbsoluteExpiration = session.UtcNow.AddMinutes(-1) };

        Assert.Throws<ArgumentOutOfRangeException>(() => session.Cache.Set(key, [8], past));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Cache.Set(key, new ReadOnlySequence<byte>([8]), past));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => session.Cache.SetAsync(key, [8], past, Ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await session.Cache.SetAsync(key, new ReadOnlySequence<byte>([8]), past, Ct));

        Assert.Equal([7, 7], await ReadAllWaysAsync(session.Cache, key));
    }

    [Fact]
    public async Task Null_arguments_are_rejected()
    {
        using CacheSession session = Open();
        IBufferDistributedCache cache = session.Cache;
        string key = session.Key("k");
        Assert.Throws<ArgumentNullException>(() => cache.Get(null!));
        Assert.Throws<ArgumentNullException>(() => cache.Set(null!, [1], NoExpiry));
        Assert.Throws<ArgumentNullException>(() => cache.Set(key, (byte[])null!, NoExpiry));
        Assert.Throws<ArgumentNullException>(() => cache.Set(key, [1], null!));
        Assert.Throws<ArgumentNullException>(() => cache.Set(key, new ReadOnlySequence<byte>([1]), null!));
        Assert.Throws<ArgumentNullException>(() => cache.Refresh(null!));
        Assert.Throws<ArgumentNullException>(() => cache.Remove(null!));
        Assert.Throws<ArgumentNullException>(() => cache.TryGet(null!, new ArrayBufferWriter<byte>()));
        await Assert.ThrowsAsync<ArgumentNullException>(() => cache.GetAsync(null!, Ct));
        await Assert.ThrowsAsync<ArgumentNullException>(() => cache.SetAsync(key, (byte[])null!, NoExpiry, Ct));
        await Assert.ThrowsAsync<ArgumentNullException>(() => cache.RemoveAsync(null!, Ct));
        Assert.Null(cache.Get(key));
    }
}
