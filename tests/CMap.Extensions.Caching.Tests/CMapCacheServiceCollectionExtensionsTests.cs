using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace CMap.Extensions.Caching.Tests;

/// <summary>
/// AddCMapDistributedCache: what it registers, what it replaces, where its options and clock come from, and that the
/// container owns (and frees) the map.
/// </summary>
public sealed class CMapCacheServiceCollectionExtensionsTests
{
    private static readonly DistributedCacheEntryOptions s_tenSeconds = new() { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(10) };

    [Fact]
    public void Registers_one_singleton_CMapDistributedCache_as_the_IDistributedCache()
    {
        var services = new ServiceCollection();
        services.AddCMapDistributedCache(o => o.Name = "di");

        ServiceDescriptor descriptor = Assert.Single(services, d => d.ServiceType == typeof(IDistributedCache));
        Assert.Equal(ServiceLifetime.Singleton, descriptor.Lifetime);

        using ServiceProvider sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var cache = Assert.IsType<CMapDistributedCache>(sp.GetRequiredService<IDistributedCache>());
        Assert.Same(cache, sp.GetRequiredService<CMapDistributedCache>());
        Assert.Same(cache, sp.GetRequiredService<IDistributedCache>());
        using (IServiceScope scope = sp.CreateScope())
        {
            Assert.Same(cache, scope.ServiceProvider.GetRequiredService<IDistributedCache>());
        }

        Assert.Equal("di", cache.Map.Name);
        cache.Set("k", [1, 2], new DistributedCacheEntryOptions());
        Assert.Equal([1, 2], sp.GetRequiredService<IDistributedCache>().Get("k"));
    }

    [Fact]
    public void Replaces_an_earlier_IDistributedCache_registration()
    {
        var services = new ServiceCollection();
        services.AddDistributedMemoryCache();
        services.AddCMapDistributedCache(_ => { });

        Assert.Single(services, d => d.ServiceType == typeof(IDistributedCache));
        using ServiceProvider sp = services.BuildServiceProvider();
        Assert.IsType<CMapDistributedCache>(sp.GetRequiredService<IDistributedCache>());
        Assert.Single(sp.GetServices<IDistributedCache>());
    }

    [Fact]
    public void Registering_it_twice_keeps_one_cache_with_both_configurations_applied()
    {
        var services = new ServiceCollection();
        services.AddCMapDistributedCache(o => o.Name = "first");
        services.AddCMapDistributedCache(o => o.ShardCount = 2);

        Assert.Single(services, d => d.ServiceType == typeof(IDistributedCache));
        Assert.Single(services, d => d.ServiceType == typeof(CMapDistributedCache));
        using ServiceProvider sp = services.BuildServiceProvider();
        var cache = sp.GetRequiredService<CMapDistributedCache>();
        Assert.Equal("first", cache.Map.Name);
        Assert.Equal(2, cache.Map.ShardCount);
    }

    [Fact]
    public void Swapping_to_Redis_is_one_later_registration()
    {
        // What the README promises: AddStackExchangeRedisCache after it replaces CMap as the IDistributedCache (the
        // RedisCache is only built here, never connected).
        var services = new ServiceCollection();
        services.AddCMapDistributedCache(_ => { });
        services.AddStackExchangeRedisCache(o => o.Configuration = "127.0.0.1:1");

        using ServiceProvider sp = services.BuildServiceProvider();
        Assert.IsAssignableFrom<RedisCache>(sp.GetRequiredService<IDistributedCache>());

        // Unlike AddCMapDistributedCache, AddStackExchangeRedisCache (10.0.x) adds its registration rather than
        // replacing: the last one wins resolution, so the swap still works, but CMap's stays listed.
        Assert.Equal(2, services.Count(d => d.ServiceType == typeof(IDistributedCache)));
    }

    [Fact]
    public void Binds_its_options_from_a_configuration_section()
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Caching:CMap:Name"] = "from-config",
                ["Caching:CMap:MaxBytes"] = "33554432",
                ["Caching:CMap:ShardCount"] = "4",
                ["Caching:CMap:InitialCapacity"] = "1000",
                ["Caching:CMap:MaxValueLength"] = "4096",
                ["Caching:CMap:ChunkSizes:0"] = "16384",
                ["Caching:CMap:ChunkSizes:1"] = "131072",
                ["Caching:CMap:MaxRetainedChunkBytes"] = "65536",
                ["Caching:CMap:CompactionDeadRatio"] = "0.5",
                ["Caching:CMap:CompactionMinDeadBytes"] = "1024",
                ["Caching:CMap:BackgroundCompaction"] = "false",
                ["Caching:CMap:ExpirationScanInterval"] = "00:00:05",
            })
            .Build();
        var services = new ServiceCollection();
        services.AddCMapDistributedCache(configuration.GetSection("Caching:CMap"));

        using ServiceProvider sp = services.BuildServiceProvider();
        CMapCacheOptions o = sp.GetRequiredService<IOptions<CMapCacheOptions>>().Value;
        Assert.Equal("from-config", o.Name);
        Assert.Equal(32L << 20, o.MaxBytes);
        Assert.Equal(4, o.ShardCount);
        Assert.Equal(1000, o.InitialCapacity);
        Assert.Equal(4096, o.MaxValueLength);
        Assert.Equal([16384, 131072], o.ChunkSizes);
        Assert.Equal(65536, o.MaxRetainedChunkBytes);
        Assert.Equal(0.5, o.CompactionDeadRatio);
        Assert.Equal(1024, o.CompactionMinDeadBytes);
        Assert.False(o.BackgroundCompaction);
        Assert.Equal(TimeSpan.FromSeconds(5), o.ExpirationScanInterval);

        // And the map is built from them.
        var cache = sp.GetRequiredService<CMapDistributedCache>();
        Assert.Equal("from-config", cache.Map.Name);
        Assert.Equal(4, cache.Map.ShardCount);
        Assert.Equal(32L << 20, cache.Map.GetStatistics().MaxBytes);
        cache.Set("fits", new byte[4096], new DistributedCacheEntryOptions());
        Assert.Throws<ArgumentException>(() => cache.Set("too-long", new byte[4097], new DistributedCacheEntryOptions()));
        Assert.Null(cache.Get("too-long"));
    }

    [Fact]
    public void A_configuration_section_that_sets_nothing_gives_the_defaults()
    {
        IConfiguration empty = new ConfigurationBuilder().Build();
        var services = new ServiceCollection();
        services.AddCMapDistributedCache(empty.GetSection("Missing"));
        using ServiceProvider sp = services.BuildServiceProvider();
        var cache = sp.GetRequiredService<CMapDistributedCache>();
        Assert.Equal("Default", cache.Map.Name);
        Assert.Null(cache.Map.GetStatistics().MaxBytes);
    }

    [Fact]
    public void Invalid_options_fail_when_the_cache_is_resolved_naming_the_setting()
    {
        var services = new ServiceCollection();
        services.AddCMapDistributedCache(o => o.ShardCount = 3);
        using ServiceProvider sp = services.BuildServiceProvider();
        var e = Assert.ThrowsAny<ArgumentException>(() => sp.GetRequiredService<IDistributedCache>());
        Assert.Contains("ShardCount", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Takes_the_containers_TimeProvider()
    {
        var clock = new FakeTimeProvider();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddCMapDistributedCache(_ => { });
        using ServiceProvider sp = services.BuildServiceProvider();
        IDistributedCache cache = sp.GetRequiredService<IDistributedCache>();

        cache.Set("k", [1], s_tenSeconds);
        clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromMilliseconds(1));
        Assert.NotNull(cache.Get("k"));
        clock.Advance(TimeSpan.FromMilliseconds(2));
        Assert.Null(cache.Get("k"));
    }

    [Fact]
    public void A_TimeProvider_set_in_the_options_wins_over_the_containers()
    {
        var containers = new FakeTimeProvider();
        var options = new FakeTimeProvider();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(containers);
        services.AddCMapDistributedCache(o => o.TimeProvider = options);
        using ServiceProvider sp = services.BuildServiceProvider();
        IDistributedCache cache = sp.GetRequiredService<IDistributedCache>();

        cache.Set("k", [1], s_tenSeconds);
        containers.Advance(TimeSpan.FromHours(1));
        Assert.NotNull(cache.Get("k"));
        options.Advance(TimeSpan.FromSeconds(11));
        Assert.Null(cache.Get("k"));
    }

    [Fact]
    public void Without_a_TimeProvider_anywhere_it_runs_on_the_system_clock()
    {
        var services = new ServiceCollection();
        services.AddCMapDistributedCache(_ => { });
        using ServiceProvider sp = services.BuildServiceProvider();
        IDistributedCache cache = sp.GetRequiredService<IDistributedCache>();

        // An absolute expiration is checked against the clock: a minute ago on the system clock is in the past.
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Set("k", [1], new DistributedCacheEntryOptions { AbsoluteExpiration = DateTimeOffset.UtcNow.AddMinutes(-1) }));
        cache.Set("k", [1], new DistributedCacheEntryOptions { AbsoluteExpiration = DateTimeOffset.UtcNow.AddHours(1) });
        Assert.NotNull(cache.Get("k"));
    }

    [Fact]
    public void Disposing_the_container_disposes_the_map_and_frees_its_memory()
    {
        var services = new ServiceCollection();
        services.AddCMapDistributedCache(_ => { });
        ServiceProvider sp = services.BuildServiceProvider();
        IDistributedCache cache = sp.GetRequiredService<IDistributedCache>();
        cache.Set("k", new byte[100_000], new DistributedCacheEntryOptions());
        ByteMap map = ((CMapDistributedCache)cache).Map;
        Assert.True(map.GetStatistics().NativeBytes > 100_000);

        sp.Dispose();

        Assert.Throws<ObjectDisposedException>(() => map.GetStatistics());
        Assert.Throws<ObjectDisposedException>(() => cache.Get("k"));
    }

    [Fact]
    public async Task Disposing_the_container_asynchronously_disposes_the_map_too()
    {
        var services = new ServiceCollection();
        services.AddCMapDistributedCache(_ => { });
        ServiceProvider sp = services.BuildServiceProvider();
        ByteMap map = sp.GetRequiredService<CMapDistributedCache>().Map;

        await sp.DisposeAsync();

        Assert.Throws<ObjectDisposedException>(() => map.GetStatistics());
    }

    [Fact]
    public void Null_arguments_are_rejected()
    {
        var services = new ServiceCollection();
        Assert.Throws<ArgumentNullException>(() => services.AddCMapDistributedCache((Action<CMapCacheOptions>)null!));
        Assert.Throws<ArgumentNullException>(() => services.AddCMapDistributedCache((IConfiguration)null!));
        Assert.Throws<ArgumentNullException>(() => ((IServiceCollection)null!).AddCMapDistributedCache(_ => { }));
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(IDistributedCache));
    }
}
