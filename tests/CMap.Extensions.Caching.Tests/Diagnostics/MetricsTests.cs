using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Support;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Diagnostics;

/// <summary>
/// The "CMap" meter as a cache registered through DI reports it: the container's IMeterFactory scopes the meter, so
/// these collectors see only this test's maps. And its dotnet.cache.* instruments have the shape MemoryCache 11's do.
/// </summary>
public sealed class MetricsTests(ITestOutputHelper output)
{
    private const string Meter = "CMap";
    private const string NameTag = "dotnet.cache.name";

    private static readonly string[] s_sharedInstruments = ["dotnet.cache.requests", "dotnet.cache.evictions", "dotnet.cache.entries", "dotnet.cache.estimated_size"];

    [Fact]
    public void Hits_misses_entries_and_size_are_reported_per_cache_name()
    {
        using ServiceProvider sp = Container(o => o.Name = "orders");
        var factory = sp.GetRequiredService<IMeterFactory>();
        using var requests = new MetricCollector<long>(factory, Meter, "dotnet.cache.requests");
        using var entries = new MetricCollector<long>(factory, Meter, "dotnet.cache.entries");
        using var size = new MetricCollector<long>(factory, Meter, "dotnet.cache.estimated_size");
        IDistributedCache cache = sp.GetRequiredService<IDistributedCache>();

        cache.Set("a", new byte[1000], new DistributedCacheEntryOptions());
        cache.Set("b", new byte[2000], new DistributedCacheEntryOptions());
        cache.Set("c", new byte[3000], new DistributedCacheEntryOptions());
        Assert.NotNull(cache.Get("a"));
        Assert.NotNull(cache.Get("b"));
        Assert.Null(cache.Get("x"));
        Assert.Null(cache.Get("y"));
        Assert.Null(cache.Get("z"));
        cache.Remove("c");

        requests.RecordObservableInstruments();
        entries.RecordObservableInstruments();
        size.RecordObservableInstruments();

        Assert.Equal(2, Single(requests, "orders", ("dotnet.cache.request.result", "hit")).Value);
        Assert.Equal(3, Single(requests, "orders", ("dotnet.cache.request.result", "miss")).Value);
        Assert.Equal(2, Single(entries, "orders").Value);
        long estimated = Single(size, "orders").Value;
        Assert.InRange(estimated, 3000, 3000 + 1000);
        Assert.Equal(((CMapDistributedCache)cache).Map.GetStatistics().LiveBytes, estimated);
    }

    [Fact]
    public async Task Evictions_are_reported_and_match_the_removals_by_reason()
    {
        // A budget a few times the minimum the settings allow, filled several times over.
        long budget = 4 * new CMapConfig { ShardCount = 1, ChunkSizes = [4096] }.GetMinimumMaxBytes();
        using ServiceProvider sp = Container(o =>
        {
            o.Name = "small";
            o.ShardCount = 1;
            o.ChunkSizes = [4096];
            o.MaxBytes = budget;
        });
        var factory = sp.GetRequiredService<IMeterFactory>();
        using var evictions = new MetricCollector<long>(factory, Meter, "dotnet.cache.evictions");
        using var removals = new MetricCollector<long>(factory, Meter, "cmap.removals");
        var cache = sp.GetRequiredService<CMapDistributedCache>();
        output.WriteLine($"budget {budget} bytes");

        for (int i = 0; i < 8 * budget / 1000; i++)
        {
            cache.Set($"k{i}", new byte[1000], new DistributedCacheEntryOptions());
        }

        cache.Remove("k0");
        // A budgeted write makes room for itself before it appends (inline when the compactor lags), so by now
        // eviction has happened: no wait.
        Assert.True(cache.Map.GetStatistics().Evictions > 0, "nothing was evicted from a full cache");

        long before = cache.Map.GetStatistics().Evictions;
        evictions.RecordObservableInstruments();
        removals.RecordObservableInstruments();
        long after = cache.Map.GetStatistics().Evictions;

        long reported = Single(evictions, "small").Value;
        Assert.InRange(reported, before, after);
        Assert.InRange(Single(removals, "small", ("cmap.removal.reason", "evicted")).Value, before, after);
        Assert.Equal(0, Single(removals, "small", ("cmap.removal.reason", "expired")).Value);
        Assert.InRange(Single(removals, "small", ("cmap.removal.reason", "deleted")).Value, 0, 1);
        output.WriteLine($"{reported} evictions reported");
    }

    [Fact]
    public void Two_caches_on_one_meter_factory_report_apart_by_name()
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        using ServiceProvider sp = services.BuildServiceProvider();
        var factory = sp.GetRequiredService<IMeterFactory>();
        using var requests = new MetricCollector<long>(factory, Meter, "dotnet.cache.requests");
        using var first = new CMapDistributedCache(Options.Create(new CMapCacheOptions { Name = "first", ShardCount = 1 }), null, factory);
        using var second = new CMapDistributedCache(Options.Create(new CMapCacheOptions { Name = "second", ShardCount = 1 }), null, factory);
        first.Set("k", [1], new DistributedCacheEntryOptions());
        first.Get("k");
        second.Get("k");
        second.Get("k");

        requests.RecordObservableInstruments();

        Assert.Equal(1, Single(requests, "first", ("dotnet.cache.request.result", "hit")).Value);
        Assert.Equal(0, Single(requests, "first", ("dotnet.cache.request.result", "miss")).Value);
        Assert.Equal(0, Single(requests, "second", ("dotnet.cache.request.result", "hit")).Value);
        Assert.Equal(2, Single(requests, "second", ("dotnet.cache.request.result", "miss")).Value);
    }

    [Fact]
    public void A_disposed_cache_stops_reporting()
    {
        using ServiceProvider sp = Container(o => o.Name = "short-lived");
        var factory = sp.GetRequiredService<IMeterFactory>();
        using var entries = new MetricCollector<long>(factory, Meter, "dotnet.cache.entries");
        var cache = sp.GetRequiredService<CMapDistributedCache>();
        cache.Set("k", [1], new DistributedCacheEntryOptions());
        entries.RecordObservableInstruments();
        Assert.Equal(1, Single(entries, "short-lived").Value);

        cache.Dispose();
        entries.Clear();
        entries.RecordObservableInstruments();
        Assert.DoesNotContain(entries.GetMeasurementSnapshot(), m => Equals(m.Tags[NameTag], "short-lived"));
    }

    [Fact]
    public void The_shared_instruments_have_MemoryCache_11s_names_kinds_units_and_tag_keys()
    {
        (Dictionary<(string Meter, string Instrument), InstrumentShape> seen, string memoryMeter) = CaptureBoth();

        foreach (string name in s_sharedInstruments)
        {
            Assert.True(seen.TryGetValue((memoryMeter, name), out InstrumentShape? theirs), $"MemoryCache 11 ({memoryMeter}) publishes no {name}");
            Assert.True(seen.TryGetValue((Meter, name), out InstrumentShape? ours), $"CMap publishes no {name}");
            Assert.Equal(theirs.Kind, ours.Kind);
            Assert.Equal(theirs.Type, ours.Type);
            Assert.True(theirs.TagKeys.SetEquals(ours.TagKeys), $"{name}: MemoryCache tags [{string.Join(", ", theirs.TagKeys)}], CMap's [{string.Join(", ", ours.TagKeys)}]");
            Assert.Contains(NameTag, ours.TagKeys);
            if (name != "dotnet.cache.estimated_size")
            {
                Assert.Equal(theirs.Unit, ours.Unit);
            }
        }

        // The name tag carries each cache's name: MemoryCacheOptions.Name, CMapCacheOptions.Name.
        Assert.Contains("mc", seen[(memoryMeter, "dotnet.cache.requests")].NameTagValues);
        Assert.Contains("cm", seen[(Meter, "dotnet.cache.requests")].NameTagValues);
    }

    [Fact]
    public void The_estimated_size_has_MemoryCache_11s_unit()
    {
        // Kept apart from the test above: MemoryCache 11 says "1" (its sizes are the caller's own units), and CMap
        // publishes the same unit (its figure is bytes, said in the description), so dashboards match.
        (Dictionary<(string Meter, string Instrument), InstrumentShape> seen, string memoryMeter) = CaptureBoth();
        string? theirs = seen[(memoryMeter, "dotnet.cache.estimated_size")].Unit;
        string? ours = seen[(Meter, "dotnet.cache.estimated_size")].Unit;
        Assert.Equal("1", theirs);
        Assert.Equal(theirs, ours);
    }

    /// <summary>
    /// The dotnet.cache.* instruments of a MemoryCache 11 and a CMap cache on one meter factory, with the tags of one
    /// collection after a hit and a miss on each.
    /// </summary>
    private (Dictionary<(string Meter, string Instrument), InstrumentShape> Seen, string MemoryMeter) CaptureBoth()
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        using ServiceProvider sp = services.BuildServiceProvider();
        var factory = sp.GetRequiredService<IMeterFactory>();
        var seen = new Dictionary<(string Meter, string Instrument), InstrumentShape>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name.StartsWith("dotnet.cache.", StringComparison.Ordinal))
            {
                lock (seen)
                {
                    seen[(instrument.Meter.Name, instrument.Name)] = new InstrumentShape(instrument.GetType().GetGenericTypeDefinition().Name, instrument.GetType().GetGenericArguments()[0].Name, instrument.Unit);
                }

                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) => RecordTags(seen, instrument, tags));
        listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => RecordTags(seen, instrument, tags));
        listener.SetMeasurementEventCallback<int>((instrument, _, tags, _) => RecordTags(seen, instrument, tags));
        listener.Start();

        using var memory = new MemoryCache(Options.Create(new MemoryCacheOptions { Name = "mc", TrackStatistics = true, SizeLimit = 1 << 20 }), NullLoggerFactory.Instance, factory);
        memory.Set("k", "v", new MemoryCacheEntryOptions { Size = 1 });
        memory.TryGetValue("k", out _);
        memory.TryGetValue("missing", out _);
        using var cmap = new CMapDistributedCache(Options.Create(new CMapCacheOptions { Name = "cm", ShardCount = 1 }), null, factory);
        cmap.Set("k", [1], new DistributedCacheEntryOptions());
        cmap.Get("k");
        cmap.Get("missing");
        listener.RecordObservableInstruments();

        string memoryMeter = Assert.Single(seen.Keys.Select(k => k.Meter).Where(m => m != Meter).Distinct());
        foreach (var ((m, i), shape) in seen.OrderBy(e => e.Key.Meter, StringComparer.Ordinal).ThenBy(e => e.Key.Instrument, StringComparer.Ordinal))
        {
            output.WriteLine($"{m} {i}: {shape.Kind}<{shape.Type}> '{shape.Unit}' tags [{string.Join(", ", shape.TagKeys.Order(StringComparer.Ordinal))}]");
        }

        return (seen, memoryMeter);
    }

    private static void RecordTags(Dictionary<(string, string), InstrumentShape> seen, Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        lock (seen)
        {
            InstrumentShape shape = seen[(instrument.Meter.Name, instrument.Name)];
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                shape.TagKeys.Add(tag.Key);
                if (tag.Key == NameTag && tag.Value is string value)
                {
                    shape.NameTagValues.Add(value);
                }
            }
        }
    }

    private static ServiceProvider Container(Action<CMapCacheOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddCMapDistributedCache(configure);
        return services.BuildServiceProvider();
    }

    /// <summary>The one measurement tagged with <paramref name="name"/> (and <paramref name="tag"/>, when given).</summary>
    private static CollectedMeasurement<long> Single(MetricCollector<long> collector, string name, (string Key, string Value)? tag = null)
    {
        IReadOnlyList<CollectedMeasurement<long>> all = collector.GetMeasurementSnapshot();
        return Assert.Single(all, m => Equals(m.Tags[NameTag], name) && (tag is not (string k, string v) || Equals(m.Tags.GetValueOrDefault(k), v)));
    }

    private sealed record InstrumentShape(string Kind, string Type, string? Unit)
    {
        public HashSet<string> TagKeys { get; } = new(StringComparer.Ordinal);

        public HashSet<string> NameTagValues { get; } = new(StringComparer.Ordinal);
    }
}
