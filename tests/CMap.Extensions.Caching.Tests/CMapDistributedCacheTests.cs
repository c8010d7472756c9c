using System;
using System.Buffers;
using System.Text;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace CMap.Extensions.Caching.Tests;

/// <summary>
/// What CMapDistributedCache promises beyond the shared contract (the conformance suite covers that): its limits,
/// that a rejected write changes nothing, key encoding, expiry details, the map it exposes, and disposal.
/// </summary>
public sealed class CMapDistributedCacheTests : IDisposable
{
    private static readonly DistributedCacheEntryOptions s_noExpiry = new();

    private readonly FakeTimeProvider _clock = new();
    private readonly CMapDistributedCache _cache;

    public CMapDistributedCacheTests()
    {
        _cache = Create(new CMapCacheOptions { ShardCount = 2, MaxValueLength = 64 << 10, TimeProvider = _clock });
    }

    public void Dispose() => _cache.Dispose();

    private static CMapDistributedCache Create(CMapCacheOptions options) => new(Options.Create(options));

    [Fact]
    public void A_value_over_MaxValueLength_is_rejected_on_every_write_path_and_changes_nothing()
    {
        _cache.Set("k", [1, 2, 3], s_noExpiry);
        byte[] tooLong = new byte[(64 << 10) + 1];

        Assert.Throws<ArgumentException>(() => _cache.Set("k", tooLong, s_noExpiry));
        Assert.Throws<ArgumentException>(() => _cache.Set("k", new ReadOnlySequence<byte>(tooLong), s_noExpiry));
        Assert.Throws<ArgumentException>(() => _cache.Set("k", Split(tooLong, 1000), s_noExpiry));
        Assert.Throws<ArgumentException>(() => _cache.Set("new", Split(tooLong, 1000), s_noExpiry));

        Assert.Equal([1, 2, 3], _cache.Get("k"));
        Assert.Null(_cache.Get("new"));

        // Exactly at the limit is fine, however it arrives.
        _cache.Set("k", Split(new byte[64 << 10], 4096), s_noExpiry);
        Assert.Equal(64 << 10, _cache.Get("k")!.Length);
    }

    [Fact]
    public void A_segmented_value_over_the_hard_limit_is_rejected_before_anything_is_copied()
    {
        // 17 segments over one 64 MiB array: a sequence of 1.06 GiB that allocates nothing more.
        byte[] block = new byte[64 << 20];
        var first = new Segment(block, 0);
        Segment last = first;
        for (int i = 1; i < 17; i++)
        {
            last = last.Append(block);
        }

        var huge = new ReadOnlySequence<byte>(first, 0, last, block.Length);
        Assert.True(huge.Length > CMapConfig.MaxValueLengthLimit);
        var e = Assert.Throws<ArgumentException>(() => _cache.Set("huge", huge, s_noExpiry));
        Assert.Contains("MaxValueLengthLimit", e.Message, StringComparison.Ordinal);
        Assert.Null(_cache.Get("huge"));
    }

    [Fact]
    public void An_entry_over_a_quarter_of_the_budget_is_rejected_and_changes_nothing()
    {
        long budget = new CMapConfig { ShardCount = 1 }.GetMinimumMaxBytes();
        using CMapDistributedCache small = Create(new CMapCacheOptions { ShardCount = 1, MaxBytes = budget });
        small.Set("k", [1], s_noExpiry);
        Assert.Throws<ArgumentException>(() => small.Set("k", new byte[(budget / 4) + 1], s_noExpiry));
        Assert.Equal([1], small.Get("k"));
    }

    [Fact]
    public void A_key_longer_than_MaxKeyLength_in_UTF8_is_rejected_by_every_member()
    {
        // 21,846 three-byte characters: 65,538 UTF-8 bytes from a string of fewer than 65,535 chars.
        string key = new('€', 21_846);
        Assert.True(Encoding.UTF8.GetByteCount(key) > ByteMap.MaxKeyLength);
        Assert.Throws<ArgumentException>(() => _cache.Set(key, [1], s_noExpiry));
        Assert.Throws<ArgumentException>(() => _cache.Get(key));
        Assert.Throws<ArgumentException>(() => _cache.TryGet(key, new ArrayBufferWriter<byte>()));
        Assert.Throws<ArgumentException>(() => _cache.Refresh(key));
        Assert.Throws<ArgumentException>(() => _cache.Remove(key));

        // One character shorter fits (65,535 bytes), through the pooled (long-key) path.
        string longest = new string('€', 21_845);
        _cache.Set(longest, [2], s_noExpiry);
        Assert.Equal([2], _cache.Get(longest));
        Assert.True(_cache.Map.ContainsKey(Encoding.UTF8.GetBytes(longest)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(85)]
    [InlineData(86)]
    [InlineData(1000)]
    public void Keys_are_stored_as_their_UTF8_bytes_on_the_stack_and_pooled_paths(int length)
    {
        string key = string.Create(length, 0, static (span, _) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = "aé€"[i % 3]; // one, two and three UTF-8 bytes
            }
        });
        _cache.Set(key, [7], s_noExpiry);
        Assert.True(_cache.Map.ContainsKey(Encoding.UTF8.GetBytes(key)), "the map holds the key under other bytes than its UTF-8 form");
        Assert.Equal([7], _cache.Get(key));
    }

    [Fact]
    public void A_lone_surrogate_encodes_as_U_FFFD_as_in_StackExchange_Redis()
    {
        _cache.Set("a\uD800b", [1], s_noExpiry);
        Assert.True(_cache.Map.ContainsKey("a\uFFFDb"u8));
        Assert.Equal([1], _cache.Get("a\uDBFFb")); // another lone surrogate: the same bytes
    }

    [Fact]
    public void Both_absolute_expirations_set_the_earlier_applies()
    {
        // CMap's documented choice, which MemoryDistributedCache shares. RedisCache differs: when
        // AbsoluteExpirationRelativeToNow is set it ignores AbsoluteExpiration, so there this entry would live an hour.
        _cache.Set("k", [1], new DistributedCacheEntryOptions
        {
            AbsoluteExpiration = _clock.GetUtcNow().AddSeconds(2),
            AbsoluteExpirationRelativeToNow = TimeSpan.FromHours(1),
        });
        _clock.Advance(TimeSpan.FromSeconds(2) - TimeSpan.FromTicks(1));
        Assert.NotNull(_cache.Get("k"));
        _clock.Advance(TimeSpan.FromTicks(2));
        Assert.Null(_cache.Get("k"));
    }

    [Fact]
    public void An_absolute_expiration_of_exactly_now_is_rejected_on_the_caches_clock()
    {
        var now = new DistributedCacheEntryOptions { AbsoluteExpiration = _clock.GetUtcNow() };
        Assert.Throws<ArgumentOutOfRangeException>(() => _cache.Set("k", [1], now));
        Assert.Null(_cache.Get("k"));

        // The fake clock is at 2000-01-01: a date that is past on the system clock is still the future here.
        _cache.Set("k", [1], new DistributedCacheEntryOptions { AbsoluteExpiration = _clock.GetUtcNow().AddTicks(1) });
        Assert.NotNull(_cache.Get("k"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Expired_entries_leave_the_map_without_being_read(bool backgroundCompaction)
    {
        var clock = new FakeTimeProvider();
        using CMapDistributedCache cache = Create(new CMapCacheOptions { ShardCount = 2, TimeProvider = clock, BackgroundCompaction = backgroundCompaction });
        for (int i = 0; i < 100; i++)
        {
            cache.Set($"k{i}", new byte[100], new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(5) });
        }

        Assert.Equal(100, cache.Map.Count);

        // The expiry timer runs on the cache's TimeProvider: moving the fake clock past the scan interval fires it. Its
        // sweep runs on the compactor's thread when there is one (so the test waits, bounded), else on the tick's.
        clock.Advance(TimeSpan.FromSeconds(5));
        clock.Advance(new CMapCacheOptions().ExpirationScanInterval);
        if (backgroundCompaction)
        {
            Assert.True(System.Threading.SpinWait.SpinUntil(() => cache.Map.Count == 0, TimeSpan.FromSeconds(10)), "expired entries were never swept");
        }

        Assert.Equal(0, cache.Map.Count);
        Assert.Equal(100, cache.Map.GetStatistics().Expirations);
    }

    [Fact]
    public async Task Async_members_complete_synchronously()
    {
        Task set = _cache.SetAsync("k", [1], s_noExpiry, TestContext.Current.CancellationToken);
        Assert.True(set.IsCompletedSuccessfully);
        ValueTask setSequence = _cache.SetAsync("s", new ReadOnlySequence<byte>([2]), s_noExpiry, TestContext.Current.CancellationToken);
        Assert.True(setSequence.IsCompletedSuccessfully);
        await setSequence;
        Task<byte[]?> get = _cache.GetAsync("k", TestContext.Current.CancellationToken);
        Assert.True(get.IsCompletedSuccessfully);
        Assert.Equal([1], await get);
        ValueTask<bool> tryGet = _cache.TryGetAsync("s", new ArrayBufferWriter<byte>(), TestContext.Current.CancellationToken);
        Assert.True(tryGet.IsCompletedSuccessfully);
        Assert.True(await tryGet);
        Assert.True(_cache.RefreshAsync("k", TestContext.Current.CancellationToken).IsCompletedSuccessfully);
        Assert.True(_cache.RemoveAsync("k", TestContext.Current.CancellationToken).IsCompletedSuccessfully);
    }

    [Fact]
    public void Map_is_the_map_behind_the_cache()
    {
        _cache.Set("k", [1, 2], s_noExpiry);
        Assert.Equal([1, 2], _cache.Map.Get("k"u8));
        _cache.Map.Insert("direct"u8, [3]);
        Assert.Equal([3], _cache.Get("direct"));
        Assert.Equal(2, _cache.Map.ShardCount);
    }

    [Fact]
    public async Task After_Dispose_every_member_throws_ObjectDisposedException_and_Dispose_is_idempotent()
    {
        CMapDistributedCache cache = Create(new CMapCacheOptions());
        cache.Set("k", [1], s_noExpiry);
        cache.Dispose();
        cache.Dispose();

        Assert.Throws<ObjectDisposedException>(() => cache.Get("k"));
        Assert.Throws<ObjectDisposedException>(() => cache.TryGet("k", new ArrayBufferWriter<byte>()));
        Assert.Throws<ObjectDisposedException>(() => cache.Set("k", [1], s_noExpiry));
        Assert.Throws<ObjectDisposedException>(() => cache.Refresh("k"));
        Assert.Throws<ObjectDisposedException>(() => cache.Remove("k"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => cache.GetAsync("k", TestContext.Current.CancellationToken));
        Assert.Throws<ObjectDisposedException>(() => cache.Map.GetStatistics());
    }

    [Fact]
    public void Invalid_options_are_rejected_with_CMapConfigs_message()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => Create(new CMapCacheOptions { Name = "" }));
        Assert.Contains("Name", e.Message, StringComparison.Ordinal);
        e = Assert.ThrowsAny<ArgumentException>(() => Create(new CMapCacheOptions { MaxBytes = 1 }));
        Assert.Contains("MaxBytes", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => new CMapDistributedCache(null!));
    }

    private static ReadOnlySequence<byte> Split(byte[] bytes, int segmentLength)
    {
        var first = new Segment(bytes.AsMemory(0, Math.Min(segmentLength, bytes.Length)), 0);
        Segment last = first;
        for (int at = segmentLength; at < bytes.Length; at += segmentLength)
        {
            last = last.Append(bytes.AsMemory(at, Math.Min(segmentLength, bytes.Length - at)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
