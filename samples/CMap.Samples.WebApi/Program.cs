using System;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CMap;
using CMap.Extensions.Caching;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;

var builder = WebApplication.CreateBuilder(args);

// CMap as the app's IDistributedCache, its options from appsettings.json ("Caching:CMap").
builder.Services.AddCMapDistributedCache(builder.Configuration.GetSection("Caching:CMap"));
// Outgrown one machine? One line swaps the store (package Microsoft.Extensions.Caching.StackExchangeRedis); the
// endpoints below do not change:
// builder.Services.AddStackExchangeRedisCache(o => o.Configuration = builder.Configuration.GetConnectionString("redis"));

var app = builder.Build();

var productOptions = new DistributedCacheEntryOptions
{
    AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(10),
    SlidingExpiration = TimeSpan.FromMinutes(2),
};

// The cached JSON is served as it was stored: a hit deserializes nothing.
app.MapGet("/products/{id:int}", async (int id, IDistributedCache cache, CancellationToken ct) =>
{
    string key = $"product:{id}";
    byte[]? json = await cache.GetAsync(key, ct);
    if (json is null)
    {
        Product product = await Catalog.LoadAsync(id, ct);
        json = JsonSerializer.SerializeToUtf8Bytes(product, JsonSerializerOptions.Web);
        await cache.SetAsync(key, json, productOptions, ct);
    }

    return Results.Bytes(json, "application/json");
});

// After a product changes, drop its cached copy.
app.MapDelete("/products/{id:int}/cache", async (int id, IDistributedCache cache, CancellationToken ct) =>
{
    await cache.RemoveAsync($"product:{id}", ct);
    return Results.NoContent();
});

// The cache's own figures (CMap only; `dotnet-counters monitor --counters CMap` shows them live).
app.MapGet("/cache/stats", (CMapDistributedCache cache) =>
{
    CMapStatistics s = cache.Map.GetStatistics();
    return Results.Ok(new { s.Count, s.Hits, s.Misses, s.Evictions, s.Expirations, s.LiveBytes, s.NativeBytes, s.MaxBytes });
});

app.Run();

internal sealed record Product(int Id, string Name, decimal Price);

/// <summary>Stands in for a database: a slow lookup worth caching.</summary>
internal static class Catalog
{
    public static async Task<Product> LoadAsync(int id, CancellationToken ct)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
        return new Product(id, $"Product {id}", 9.99m + id);
    }
}
