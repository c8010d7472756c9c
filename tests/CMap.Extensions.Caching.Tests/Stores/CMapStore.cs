using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CMap.Extensions.Caching.Tests.Stores;

/// <summary>CMap's adapter: a fresh <see cref="CMapDistributedCache"/> per test, on a fake clock of its own.</summary>
public sealed class CMapStore : CacheStore
{
    public override string Name => "CMapDistributedCache";

    public override string? NoFakeClockReason => null;

    public override ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public override CacheSession OpenSession(string testName)
    {
        var clock = new FakeTimeProvider();
        var cache = new CMapDistributedCache(Options.Create(new CMapCacheOptions
        {
            Name = "conformance",
            ShardCount = 4,
            TimeProvider = clock,
        }));
        return new CacheSession(cache, testName + ":", clock, cache);
    }
}
