using System;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Support;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace CMap.Extensions.Caching.Tests;

/// <summary>
/// HybridCache (Microsoft.Extensions.Caching.Hybrid) with CMap as its L2. Each test builds one CMap L2, wrapped in a
/// counting decorator, and one or more HybridCache containers over it: a second container has an L1 of its own, so
/// what it gets without calling its factory came from CMap.
/// </summary>
public sealed class HybridCacheIntegrationTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _clock = new();
    private readonly CMapDistributedCache _l2;
    private readonly CountingBufferCache _counting;

    public HybridCacheIntegrationTests()
    {
        _l2 = new CMapDistributedCache(Options.Create(new CMapCacheOptions { Name = "hybrid-l2", ShardCount = 4, TimeProvider = _clock }));
        _counting = new CountingBufferCache(_l2);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _l2.Dispose();

    [Fact]
    public async Task HybridCache_reads_and_writes_CMap_through_the_buffer_path_only()
    {
        using ServiceProvider writer = Container();
        using ServiceProvider reader = Container();
        int calls = 0;

        string first = await writer.GetRequiredService<HybridCache>().GetOrCreateAsync("user:42", _ => { calls++; return ValueTask.FromResult("Ada"); }, cancellationToken: Ct);
        Assert.Equal("Ada", first);
        await _counting.WaitForAsync(() => _l2.Map.ContainsKey("user:42"u8), s_wait, "HybridCache never wrote the entry to CMap", Ct);

        // Another container: its L1 is empty, so the value it gets without calling its factory is CMap's.
        string second = await reader.GetRequiredService<HybridCache>().GetOrCreateAsync("user:42", _ => { calls++; return ValueTask.FromResult("not Ada"); }, cancellationToken: Ct);
        Assert.Equal("Ada", second);
        Assert.Equal(1, calls);

        Assert.True(_counting.Calls("TryGetAsync") + _counting.Calls("TryGet") >= 2, $"L2 reads: {_counting}");
        Assert.True(_counting.Calls("SetAsync(sequence)") + _counting.Calls("Set(sequence)") >= 1, $"L2 writes: {_counting}");
        Assert.True(_counting.ArrayPathCalls == 0, $"HybridCache used the byte[] members of an IBufferDistributedCache: {_counting}");
        Assert.True(_l2.Map.GetStatistics().Hits >= 1, "CMap counted no hit");
    }

    [Fact]
    public async Task A_payload_larger_than_MaximumPayloadBytes_is_not_returned_from_L2()
    {
        const int Limit = 4096;
        using ServiceProvider writer = Container(maximumPayloadBytes: 1 << 20);
        using ServiceProvider reader = Container(maximumPayloadBytes: Limit);
        string big = new('x', 3 * Limit), small = "fits";

        HybridCache w = writer.GetRequiredService<HybridCache>();
        await w.GetOrCreateAsync("big", _ => ValueTask.FromResult(big), cancellationToken: Ct);
        await w.GetOrCreateAsync("small", _ => ValueTask.FromResult(small), cancellationToken: Ct);
        await _counting.WaitForAsync(() => _l2.Map.ContainsKey("big"u8) && _l2.Map.ContainsKey("small"u8), s_wait, "the writer's entries never reached CMap", Ct);
        Assert.True(_l2.Get("big")!.Length > Limit, "the stored payload is not over the reader's limit");

        HybridCache r = reader.GetRequiredService<HybridCache>();
        int readsBefore = _counting.Calls("TryGetAsync") + _counting.Calls("TryGet");
        Assert.Equal(small, await r.GetOrCreateAsync("small", _ => ValueTask.FromResult("factory"), cancellationToken: Ct));
        Assert.Equal("factory", await r.GetOrCreateAsync("big", _ => ValueTask.FromResult("factory"), cancellationToken: Ct));
        Assert.True(_counting.Calls("TryGetAsync") + _counting.Calls("TryGet") >= readsBefore + 2, $"the reader did not ask L2 for both keys: {_counting}");

        // Nor does the reader store a payload over its limit: its big factory result never reaches CMap, while the
        // small write after it does.
        Assert.Equal(big, await r.GetOrCreateAsync("big-from-reader", _ => ValueTask.FromResult(big), cancellationToken: Ct));
        await r.GetOrCreateAsync("marker", _ => ValueTask.FromResult(small), cancellationToken: Ct);
        await _counting.WaitForAsync(() => _l2.Map.ContainsKey("marker"u8), s_wait, "the reader's small entry never reached CMap", Ct);
        Assert.False(_l2.Map.ContainsKey("big-from-reader"u8), "a payload over MaximumPayloadBytes was written to L2");
    }

    [Fact]
    public async Task Tag_invalidations_are_ordinary_CMap_keys_that_other_instances_honour()
    {
        using ServiceProvider first = Container();
        using ServiceProvider second = Container();
        HybridCache a = first.GetRequiredService<HybridCache>();
        string[] tags = ["products"];
        int calls = 0;
        ValueTask<string> Factory(CancellationToken _) => ValueTask.FromResult($"v{Interlocked.Increment(ref calls)}");

        Assert.Equal("v1", await a.GetOrCreateAsync("product:1", Factory, tags: tags, cancellationToken: Ct));
        await _counting.WaitForAsync(() => _l2.Map.ContainsKey("product:1"u8), s_wait, "the tagged entry never reached CMap", Ct);

        _clock.Advance(TimeSpan.FromSeconds(1));
        await a.RemoveByTagAsync("products", Ct);

        byte[] tagKey = Encoding.UTF8.GetBytes("__MSFT_HCT__products");
        await _counting.WaitForAsync(() => _l2.Map.ContainsKey(tagKey), s_wait, "no __MSFT_HCT__products key in CMap after RemoveByTagAsync", Ct);
        Assert.Contains("__MSFT_HCT__products", _counting.KeysWritten);
        byte[]? stamp = _l2.Get("__MSFT_HCT__products");
        Assert.NotNull(stamp);
        Assert.NotEmpty(stamp);
        Assert.True(_l2.Map.ContainsKey("product:1"u8), "the invalidation deleted the entry itself; it should only be marked by its tag");

        // The other instance never saw the invalidation: it learns of it from the tag key in CMap, so the v1 it finds
        // there is stale and it calls its factory. The first instance then gets that fresh v2 from CMap.
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("v2", await second.GetRequiredService<HybridCache>().GetOrCreateAsync("product:1", Factory, tags: tags, cancellationToken: Ct));
        Assert.Equal("v2", await a.GetOrCreateAsync("product:1", Factory, tags: tags, cancellationToken: Ct));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Remove_through_HybridCache_removes_the_CMap_entry()
    {
        using ServiceProvider sp = Container();
        HybridCache cache = sp.GetRequiredService<HybridCache>();
        await cache.SetAsync("gone-soon", "value", cancellationToken: Ct);
        await _counting.WaitForAsync(() => _l2.Map.ContainsKey("gone-soon"u8), s_wait, "the entry never reached CMap", Ct);

        await cache.RemoveAsync("gone-soon", Ct);

        Assert.False(_l2.Map.ContainsKey("gone-soon"u8));
        Assert.True(_counting.Calls("RemoveAsync") + _counting.Calls("Remove") >= 1, _counting.ToString());
    }

    /// <summary>A container with HybridCache over the test's (counted) CMap L2 and its fake clock.</summary>
    private ServiceProvider Container(int? maximumPayloadBytes = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddSingleton<IDistributedCache>(_counting);
        services.AddHybridCache(o =>
        {
            if (maximumPayloadBytes is int max)
            {
                o.MaximumPayloadBytes = max;
            }

            o.DefaultEntryOptions = new HybridCacheEntryOptions { Expiration = TimeSpan.FromMinutes(5), LocalCacheExpiration = TimeSpan.FromMinutes(5) };
        });
        return services.BuildServiceProvider();
    }
}
