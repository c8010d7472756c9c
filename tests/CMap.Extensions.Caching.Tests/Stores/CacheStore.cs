using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Stores;

/// <summary>
/// One store the conformance suite runs against, as an xunit class fixture: it starts whatever the store needs
/// (a server process, an in-process server) once per test class and stops it at the end. When the store cannot run
/// here, <see cref="SkipReason"/> says why and every test of the class reports a skip with that reason.
/// </summary>
public abstract class CacheStore : IAsyncLifetime
{
    /// <summary>The store, for messages.</summary>
    public abstract string Name { get; }

    /// <summary>Why the store cannot run here (a missing binary, a server that did not start); null when it can.</summary>
    public string? SkipReason { get; protected set; }

    /// <summary>
    /// Null when the store's clock can be faked (expiry cases run on a <see cref="FakeTimeProvider"/>); otherwise why
    /// it cannot, the skip reason of the cases that need a fake clock.
    /// </summary>
    public abstract string? NoFakeClockReason { get; }

    public abstract ValueTask InitializeAsync();

    public abstract ValueTask DisposeAsync();

    /// <summary>A cache for one test, with its keys apart from every other test's.</summary>
    public abstract CacheSession OpenSession(string testName);
}

/// <summary>
/// What one test sees of a store: the cache, a key prefix no other test uses (the servers are shared by a class), and,
/// where the store has one, the fake clock its expiry runs on.
/// </summary>
public sealed class CacheSession(IBufferDistributedCache cache, string keyPrefix, FakeTimeProvider? clock, IDisposable? owned) : IDisposable
{
    public IBufferDistributedCache Cache { get; } = cache;

    /// <summary>The store's fake clock; null for a server, whose clock is real.</summary>
    public FakeTimeProvider? Clock { get; } = clock;

    /// <summary>Now, on the clock the store measures expiry by.</summary>
    public DateTimeOffset UtcNow => Clock?.GetUtcNow() ?? DateTimeOffset.UtcNow;

    /// <summary>A key of this test's.</summary>
    public string Key(string name) => keyPrefix + name;

    /// <summary>Moves the store's clock on. Only for a store with a fake clock.</summary>
    public void Advance(TimeSpan by)
    {
        Assert.NotNull(Clock);
        Clock.Advance(by);
    }

    public void Dispose() => owned?.Dispose();
}
