using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading;

namespace CMap;

/// <summary>
/// The maps' instruments, on a <see cref="Meter"/> named "CMap": the four that
/// Microsoft.Extensions.Caching.Memory 11's Meter publishes, with the same names, units and tags
/// (<c>dotnet.cache.requests</c> tagged <c>dotnet.cache.request.result</c> = hit or miss, <c>dotnet.cache.evictions</c>,
/// <c>dotnet.cache.entries</c>, <c>dotnet.cache.estimated_size</c>, each tagged <c>dotnet.cache.name</c>), and CMap's own
/// (<c>cmap.*</c>, listed in docs/design.md). Every instrument is observable: it reads the counters the map keeps
/// anyway, only when a listener collects, so a map nobody listens to pays nothing. One set of instruments per meter
/// reports every map registered with it, each tagged with its name; the registry holds maps weakly, so an instrument
/// never keeps an abandoned map alive.
/// </summary>
internal sealed class CMapMetrics
{
    /// <summary>The meter's name, for <c>dotnet-counters monitor --counters CMap</c>.</summary>
    internal const string MeterName = "CMap";

    internal const string NameTag = "dotnet.cache.name";

    private static readonly Lazy<Meter> s_sharedMeter = new(() => new Meter(MeterName), LazyThreadSafetyMode.ExecutionAndPublication);

    // One instrument set per meter (the shared one, or one per IMeterFactory). Weak keys: a factory's meter that is
    // disposed and dropped takes its set with it.
    private static readonly ConditionalWeakTable<Meter, CMapMetrics> s_byMeter = new();

    private readonly Lock _lock = new();
    private readonly List<WeakReference<ByteMap>> _maps = [];

    private CMapMetrics(Meter meter)
    {
        meter.CreateObservableCounter("dotnet.cache.requests", ObserveRequests, "{request}", "Total cache requests.");
        meter.CreateObservableCounter("dotnet.cache.evictions", () => Observe(static s => s.Evictions), "{eviction}", "Total cache evictions.");
        meter.CreateObservableUpDownCounter("dotnet.cache.entries", () => Observe(static s => s.Count), "{entry}", "Current number of cache entries.");
        meter.CreateObservableGauge("dotnet.cache.estimated_size", () => Observe(static s => s.LiveBytes), "1", "Estimated size of the cache: for CMap, the log bytes of its live entries (unit \"1\" as MemoryCache's, whose size is in application-defined units).");
        meter.CreateObservableUpDownCounter("cmap.native_bytes", () => Observe(static s => s.NativeBytes), "By", "Native bytes the map holds (what CMapConfig.MaxBytes bounds).");
        meter.CreateObservableUpDownCounter("cmap.held_back_bytes", () => Observe(static s => s.PendingRetiredBytes), "By", "Retired bytes waiting for readers to move on.");
        meter.CreateObservableCounter("cmap.compaction.bytes_moved", () => Observe(static s => s.CompactionBytesMoved), "By", "Live bytes compaction copied.");
        meter.CreateObservableCounter("cmap.compaction.bytes_reclaimed", () => Observe(static s => s.CompactionBytesReclaimed), "By", "Chunk bytes compaction gave back.");
        meter.CreateObservableCounter("cmap.compaction.passes", () => Observe(static s => s.CompactionPasses), "{pass}", "Compaction passes run.");
        meter.CreateObservableCounter("cmap.removals", ObserveRemovals, "{entry}", "Entries that left the map, by cmap.removal.reason: evicted, expired or deleted.");
    }

    /// <summary>Registers <paramref name="map"/> with the instruments of <paramref name="factory"/>'s "CMap" meter, or the shared one.</summary>
    internal static void Register(ByteMap map, IMeterFactory? factory)
    {
        // CA2000: a factory's meters are the factory's to dispose (it caches them by name); the shared one lives as
        // long as the process.
#pragma warning disable CA2000
        Meter meter = factory?.Create(MeterName) ?? s_sharedMeter.Value;
#pragma warning restore CA2000
        CMapMetrics metrics = s_byMeter.GetValue(meter, static m => new CMapMetrics(m));
        using Lock.Scope scope = metrics._lock.EnterScope();
        metrics.PruneUnsynchronized();
        metrics._maps.Add(new WeakReference<ByteMap>(map));
    }

    private IEnumerable<Measurement<long>> ObserveRequests()
    {
        foreach ((ByteMap map, CMapStatistics s) in Snapshot())
        {
            yield return new Measurement<long>(s.Hits, new KeyValuePair<string, object?>(NameTag, map.Name), new KeyValuePair<string, object?>("dotnet.cache.request.result", "hit"));
            yield return new Measurement<long>(s.Misses, new KeyValuePair<string, object?>(NameTag, map.Name), new KeyValuePair<string, object?>("dotnet.cache.request.result", "miss"));
        }
    }

    private IEnumerable<Measurement<long>> ObserveRemovals()
    {
        foreach ((ByteMap map, CMapStatistics s) in Snapshot())
        {
            yield return Tagged(map, s.Evictions, "evicted");
            yield return Tagged(map, s.Expirations, "expired");
            yield return Tagged(map, s.Removals, "deleted");
        }

        static Measurement<long> Tagged(ByteMap map, long value, string reason) =>
            new(value, new KeyValuePair<string, object?>(NameTag, map.Name), new KeyValuePair<string, object?>("cmap.removal.reason", reason));
    }

    private IEnumerable<Measurement<long>> Observe(Func<CMapStatistics, long> figure)
    {
        foreach ((ByteMap map, CMapStatistics s) in Snapshot())
        {
            yield return new Measurement<long>(figure(s), new KeyValuePair<string, object?>(NameTag, map.Name));
        }
    }

    /// <summary>The live, undisposed maps and their statistics (a collection is rare: allocating here is fine).</summary>
    private List<(ByteMap Map, CMapStatistics Statistics)> Snapshot()
    {
        var result = new List<(ByteMap, CMapStatistics)>();
        using Lock.Scope scope = _lock.EnterScope();
        PruneUnsynchronized();
        foreach (WeakReference<ByteMap> weak in _maps)
        {
            if (weak.TryGetTarget(out ByteMap? map) && map.TryGetStatistics(out CMapStatistics s))
            {
                result.Add((map, s));
            }
        }

        return result;
    }

    private void PruneUnsynchronized() =>
        _maps.RemoveAll(static w => !w.TryGetTarget(out ByteMap? m) || m.IsDisposed);
}
