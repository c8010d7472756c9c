using System;
using System.Buffers;
using System.Diagnostics;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Stores;
using CMap.Extensions.Caching.Tests.Support;
using Microsoft.Extensions.Caching.Distributed;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Conformance;

// Expiry: absolute, relative and sliding on a fake clock (the servers skip these: their clocks are their own), Refresh,
// and one real-clock case every store runs. An expired entry reads as missing everywhere: TryGet returns false and
// writes nothing.
public abstract partial class DistributedCacheConformance<TStore>
{
    private static readonly TimeSpan s_justPast = TimeSpan.FromMilliseconds(1);

    [Fact]
    public async Task An_absolute_expiration_removes_the_entry_at_that_instant()
    {
        using CacheSession session = OpenWithFakeClock();
        string key = session.Key("absolute");
        session.Cache.Set(key, [1, 2, 3], new DistributedCacheEntryOptions { AbsoluteExpiration = session.UtcNow.AddSeconds(10) });

        session.Advance(TimeSpan.FromSeconds(10) - s_justPast);
        Assert.Equal([1, 2, 3], await ReadAllWaysAsync(session.Cache, key));

        session.Advance(s_justPast + s_justPast);
        await AssertExpiredAsync(session, key);
    }

    [Fact]
    public async Task A_relative_expiration_removes_the_entry_that_long_after_the_write_whatever_the_reads()
    {
        using CacheSession session = OpenWithFakeClock();
        string key = session.Key("relative");
        await session.Cache.SetAsync(key, [4], new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(10) }, Ct);

        for (int i = 0; i < 3; i++)
        {
            session.Advance(TimeSpan.FromSeconds(3));
            Assert.Equal([4], await ReadAllWaysAsync(session.Cache, key));
            session.Cache.Refresh(key);
        }

        session.Advance(TimeSpan.FromSeconds(1) + s_justPast);
        await AssertExpiredAsync(session, key);
    }

    [Fact]
    public async Task A_sliding_expiration_is_extended_by_every_read_that_hits()
    {
        using CacheSession session = OpenWithFakeClock();
        string key = session.Key("sliding");
        var window = TimeSpan.FromSeconds(10);
        session.Cache.Set(key, new ReadOnlySequence<byte>([5, 5]), new DistributedCacheEntryOptions { SlidingExpiration = window });

        // Four reads 8 s apart: 32 s after the write, each within the window of the one before.
        session.Advance(TimeSpan.FromSeconds(8));
        Assert.NotNull(session.Cache.Get(key));
        session.Advance(TimeSpan.FromSeconds(8));
        Assert.True(session.Cache.TryGet(key, new ArrayBufferWriter<byte>()));
        session.Advance(TimeSpan.FromSeconds(8));
        Assert.NotNull(await session.Cache.GetAsync(key, Ct));
        session.Advance(TimeSpan.FromSeconds(8));
        Assert.True(await session.Cache.TryGetAsync(key, new ArrayBufferWriter<byte>(), Ct));

        session.Advance(window + s_justPast);
        await AssertExpiredAsync(session, key);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Refresh_extends_a_sliding_expiration_without_reading(bool async)
    {
        using CacheSession session = OpenWithFakeClock();
        string key = session.Key("refreshed");
        var window = TimeSpan.FromSeconds(10);
        session.Cache.Set(key, [6], new DistributedCacheEntryOptions { SlidingExpiration = window });

        for (int i = 0; i < 3; i++)
        {
            session.Advance(TimeSpan.FromSeconds(8));
            if (async)
            {
                await session.Cache.RefreshAsync(key, Ct);
            }
            else
            {
                session.Cache.Refresh(key);
            }
        }

        session.Advance(TimeSpan.FromSeconds(8));
        Assert.Equal([6], session.Cache.Get(key));
        session.Advance(window + s_justPast);
        await AssertExpiredAsync(session, key);
    }

    [Fact]
    public async Task A_sliding_expiration_never_outlives_the_absolute_one()
    {
        using CacheSession session = OpenWithFakeClock();
        string key = session.Key("bounded");
        session.Cache.Set(key, [7], new DistributedCacheEntryOptions
        {
            SlidingExpiration = TimeSpan.FromSeconds(10),
            AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(15),
        });

        session.Advance(TimeSpan.FromSeconds(8));
        Assert.NotNull(session.Cache.Get(key));
        session.Advance(TimeSpan.FromSeconds(7) - s_justPast);
        session.Cache.Refresh(key);
        Assert.NotNull(session.Cache.Get(key));

        session.Advance(s_justPast + s_justPast);
        await AssertExpiredAsync(session, key);
    }

    [Fact]
    public async Task A_relative_expiration_earlier_than_the_absolute_one_applies()
    {
        // Both set, the relative one first: every store agrees on that case. (With the absolute one first they do not:
        // RedisCache takes the relative one whenever it is set; CMap, like MemoryDistributedCache, the earlier. See
        // CMapDistributedCacheTests.)
        using CacheSession session = OpenWithFakeClock();
        string key = session.Key("both");
        session.Cache.Set(key, [8], new DistributedCacheEntryOptions
        {
            AbsoluteExpiration = session.UtcNow.AddMinutes(1),
            AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(10),
        });

        session.Advance(TimeSpan.FromSeconds(10) - s_justPast);
        Assert.NotNull(session.Cache.Get(key));
        session.Advance(s_justPast + s_justPast);
        await AssertExpiredAsync(session, key);
    }

    [Fact]
    public async Task An_overwrite_takes_the_new_writes_expiry()
    {
        using CacheSession session = OpenWithFakeClock();
        string expiring = session.Key("becomes-expiring"), lasting = session.Key("becomes-lasting");
        var tenSeconds = new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(10) };
        session.Cache.Set(expiring, [1], NoExpiry);
        session.Cache.Set(expiring, [2], tenSeconds);
        session.Cache.Set(lasting, [3], tenSeconds);
        session.Cache.Set(lasting, [4], NoExpiry);

        session.Advance(TimeSpan.FromSeconds(10) + s_justPast);
        await AssertExpiredAsync(session, expiring);
        Assert.Equal([4], await ReadAllWaysAsync(session.Cache, lasting));
    }

    [Fact]
    public async Task An_expired_key_can_be_written_again()
    {
        using CacheSession session = OpenWithFakeClock();
        string key = session.Key("reborn");
        session.Cache.Set(key, [1], new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(5) });
        session.Advance(TimeSpan.FromSeconds(5) + s_justPast);
        await AssertExpiredAsync(session, key);

        session.Cache.Set(key, [2], NoExpiry);
        session.Advance(TimeSpan.FromHours(1));
        Assert.Equal([2], await ReadAllWaysAsync(session.Cache, key));
    }

    /// <summary>
    /// The one expiry case every store runs: a 2 s relative expiration on the store's own clock. A fake clock is moved
    /// past it; a server's is waited out with a bounded poll (8 s).
    /// </summary>
    [Fact]
    public async Task An_entry_expires_on_the_stores_own_clock()
    {
        using CacheSession session = Open();
        string key = session.Key("real-clock");
        var ttl = TimeSpan.FromSeconds(2);
        var sw = Stopwatch.StartNew();
        session.Cache.Set(key, [9, 9, 9], new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = ttl });
        byte[]? first = session.Cache.Get(key);
        if (sw.Elapsed < ttl / 2)
        {
            // Only meaningful when the machine was quick enough that the entry cannot have expired yet.
            Assert.Equal([9, 9, 9], first);
        }

        if (session.Clock is not null)
        {
            session.Advance(ttl + s_justPast);
        }
        else
        {
            // The server's clock cannot be moved, so real time passes, signalled by a system timer. Shortly before the
            // expiry the entry must still be there (when this machine got there in time to tell); well after it (the
            // servers expire to the millisecond, on access), gone.
            await Elapse.UntilAsync(sw, ttl - TimeSpan.FromMilliseconds(300), Ct);
            byte[]? before = session.Cache.Get(key);
            if (sw.Elapsed < ttl - TimeSpan.FromMilliseconds(100))
            {
                Assert.True(before is not null, $"{Store.Name}: the entry was gone after {sw.ElapsedMilliseconds} ms, before its {ttl.TotalSeconds} s expiry");
            }

            await Elapse.UntilAsync(sw, ttl + TimeSpan.FromSeconds(1), Ct);
            Assert.True(session.Cache.Get(key) is null, $"{Store.Name} still returned an entry written with a {ttl.TotalSeconds} s expiry {sw.ElapsedMilliseconds} ms later");
        }

        await AssertExpiredAsync(session, key);
    }

    /// <summary>Gone on every read path, and the buffer path writes nothing.</summary>
    private static async Task AssertExpiredAsync(CacheSession session, string key)
    {
        Assert.Null(await ReadAllWaysAsync(session.Cache, key));
        AssertMissingOnBufferPath(session.Cache, key);
        var writer = new ArrayBufferWriter<byte>();
        Assert.False(await session.Cache.TryGetAsync(key, writer));
        Assert.Equal(0, writer.WrittenCount);
    }
}
