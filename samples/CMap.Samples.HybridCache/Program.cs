using System;
using System.Threading.Tasks;
using CMap;
using CMap.Extensions.Caching;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;

var services = new ServiceCollection();

// L2: CMap, in this process and off the GC heap, within a 64 MiB budget. HybridCache finds it as the IDistributedCache
// and, since it is an IBufferDistributedCache, reads and writes it through pooled buffers.
services.AddCMapDistributedCache(o =>
{
    o.Name = "weather";
    o.MaxBytes = 64L << 20;
});
// Sharing L2 between machines instead is one line (package Microsoft.Extensions.Caching.StackExchangeRedis):
// services.AddStackExchangeRedisCache(o => o.Configuration = "localhost:6379");

// L1: HybridCache's own in-memory cache, kept shorter than L2.
services.AddHybridCache(o => o.DefaultEntryOptions = new HybridCacheEntryOptions
{
    Expiration = TimeSpan.FromMinutes(10),
    LocalCacheExpiration = TimeSpan.FromMinutes(1),
});

await using ServiceProvider provider = services.BuildServiceProvider();
HybridCache cache = provider.GetRequiredService<HybridCache>();

int loads = 0;
for (int i = 0; i < 3; i++)
{
    Forecast forecast = await cache.GetOrCreateAsync(
        "forecast:oslo",
        ct =>
        {
            loads++; // the expensive call: made once, then served from the cache
            return ValueTask.FromResult(new Forecast("Oslo", 4.5, DateTimeOffset.UtcNow));
        },
        tags: ["forecasts"]);
    Console.WriteLine($"{forecast.City}: {forecast.Celsius} °C (loads so far: {loads})");
}

// Invalidate everything tagged "forecasts": HybridCache records the invalidation in L2 as an ordinary key.
await cache.RemoveByTagAsync("forecasts");
await cache.GetOrCreateAsync("forecast:oslo", ct => { loads++; return ValueTask.FromResult(new Forecast("Oslo", 5.0, DateTimeOffset.UtcNow)); }, tags: ["forecasts"]);
Console.WriteLine($"after RemoveByTagAsync: loads {loads}");

CMapStatistics l2 = provider.GetRequiredService<CMapDistributedCache>().Map.GetStatistics();
Console.WriteLine($"L2: {l2.Count} entries, {l2.LiveBytes} bytes, {l2.Hits} hits, {l2.Misses} misses");

internal sealed record Forecast(string City, double Celsius, DateTimeOffset At);
