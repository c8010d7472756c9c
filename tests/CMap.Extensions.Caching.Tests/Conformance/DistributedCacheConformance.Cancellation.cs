using System;
using System.Buffers;
using System.Threading;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Stores;
using Microsoft.Extensions.Caching.Distributed;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Conformance;

// An async member handed a token that is already cancelled throws OperationCanceledException (synchronously or as a
// cancelled task) and changes nothing: no write, no removal, no refresh, nothing written to the destination.
public abstract partial class DistributedCacheConformance<TStore>
{
    [Theory]
    [MemberData(nameof(ConformanceData.AsyncMembers), MemberType = typeof(ConformanceData))]
    public async Task An_already_cancelled_token_throws_before_any_change(string member)
    {
        using CacheSession session = Open();
        IBufferDistributedCache cache = session.Cache;

        // Reads and refreshes aim at a sliding entry (on a fake clock, a read or refresh that should not have happened
        // shows as a window that was extended); writes and removals at a plain one, or at a key never written.
        string sliding = session.Key("sliding"), plain = session.Key("plain"), absent = session.Key("absent");
        var window = TimeSpan.FromSeconds(10);
        cache.Set(sliding, [1], new DistributedCacheEntryOptions { SlidingExpiration = window });
        cache.Set(plain, [2, 2], NoExpiry);
        session.Clock?.Advance(TimeSpan.FromSeconds(8));

        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        CancellationToken cancelled = cts.Token;
        var writer = new ArrayBufferWriter<byte>();

        Func<string, Task> call = member switch
        {
            "GetAsync" => k => cache.GetAsync(k, cancelled),
            "TryGetAsync" => async k => await cache.TryGetAsync(k, writer, cancelled),
            "SetAsync(byte[])" => k => cache.SetAsync(k, [9], NoExpiry, cancelled),
            "SetAsync(sequence)" => async k => await cache.SetAsync(k, new ReadOnlySequence<byte>([9]), NoExpiry, cancelled),
            "RefreshAsync" => k => cache.RefreshAsync(k, cancelled),
            "RemoveAsync" => k => cache.RemoveAsync(k, cancelled),
            _ => throw new ArgumentOutOfRangeException(nameof(member), member, null),
        };

        bool write = member.StartsWith("Set", StringComparison.Ordinal) || member == "RemoveAsync";
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call(write ? plain : sliding));
        if (member.StartsWith("Set", StringComparison.Ordinal))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call(absent));
        }

        Assert.Equal(0, writer.WrittenCount);
        Assert.Null(cache.Get(absent));
        Assert.Equal([2, 2], cache.Get(plain));
        if (session.Clock is not null)
        {
            // Neither read nor refreshed by the cancelled call: the window still runs from the write.
            session.Clock.Advance(window - TimeSpan.FromSeconds(8) + TimeSpan.FromMilliseconds(1));
            Assert.Null(cache.Get(sliding));
        }
        else
        {
            Assert.Equal([1], cache.Get(sliding));
        }
    }
}
