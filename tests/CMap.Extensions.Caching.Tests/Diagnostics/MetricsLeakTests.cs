using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Diagnostics;

/// <summary>The collection that forces full garbage collections and waits for the finalizer queue: run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GarbageCollectionCollection
{
    public const string Name = "garbage collection";
}

/// <summary>
/// Metrics never keep a map alive: a map registered with the "CMap" meter (the shared one, or one from a container's
/// IMeterFactory) that is abandoned without Dispose, while a listener keeps collecting, is collected and finalized.
/// <para>
/// The check is a long weak reference (trackResurrection): it clears only once the finalizer has run to the end
/// without re-registering, which is when the map's finalizer has freed every native byte (ByteMap.DisposeCore). The
/// arena's own count is internal to CMap, so the figure this project can see is the statistics' NativeBytes, taken
/// before the map is abandoned. Every wait is bounded: the finalizer wait runs on a thread joined with a timeout.
/// </para>
/// </summary>
[Collection(GarbageCollectionCollection.Name)]
public sealed class MetricsLeakTests(ITestOutputHelper output)
{
    private const int Collections = 10;
    private static readonly TimeSpan s_finalizerTimeout = TimeSpan.FromSeconds(10);

    public static TheoryData<string> Owners => new() { "ByteMap, shared meter", "ByteMap, container's meter factory", "CMapDistributedCache, container's meter factory" };

    [Theory]
    [MemberData(nameof(Owners))]
    public void An_abandoned_map_registered_with_metrics_is_collected_and_its_memory_freed(string owner)
    {
        using ServiceProvider? sp = owner.Contains("container", StringComparison.Ordinal) ? new ServiceCollection().AddMetrics().BuildServiceProvider() : null;
        IMeterFactory? factory = sp?.GetRequiredService<IMeterFactory>();
        string name = $"abandoned-{Guid.NewGuid():N}";
        var reported = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);

        // A listener that keeps collecting, as an exporter would: its callbacks must not root the map either.
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "CMap" && (factory is null ? instrument.Meter.Scope is null : ReferenceEquals(instrument.Meter.Scope, factory)))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "dotnet.cache.name" && tag.Value is string n)
                {
                    reported.AddOrUpdate(n, 1, static (_, c) => c + 1);
                }
            }
        });
        listener.Start();

        (WeakReference weak, long nativeBytes) = CreateUseAndAbandon(owner, name, factory, listener);
        output.WriteLine($"{owner}: the map held {nativeBytes:N0} native bytes when it was abandoned");
        Assert.True(nativeBytes > 0, "the map held no native memory, so the test checks nothing");
        Assert.True(reported.ContainsKey(name), "the listener never saw the map while it was alive, so the test checks nothing");

        int collections = 0;
        while (weak.IsAlive && collections < Collections)
        {
            collections++;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
            Assert.True(WaitForPendingFinalizers(), $"GC.WaitForPendingFinalizers() did not return within {s_finalizerTimeout.TotalSeconds} s");
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
            listener.RecordObservableInstruments();
        }

        output.WriteLine($"{collections} collection(s)");
        Assert.False(weak.IsAlive, $"{owner}: the abandoned map is still reachable (or never finished finalizing) after {Collections} full collections");

        reported.Clear();
        listener.RecordObservableInstruments();
        Assert.False(reported.ContainsKey(name), "the instruments still report a map that was collected");
    }

    // Not inlined: no local of the caller's frame may keep the map alive.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference Weak, long NativeBytes) CreateUseAndAbandon(string owner, string name, IMeterFactory? factory, MeterListener listener)
    {
        ByteMap map;
        if (owner.StartsWith("CMapDistributedCache", StringComparison.Ordinal))
        {
            // The adapter has no finalizer of its own: abandoning it abandons its map, whose finalizer frees the memory.
            var cache = new CMapDistributedCache(Options.Create(new CMapCacheOptions { Name = name, ShardCount = 2 }), null, factory);
            for (int i = 0; i < 200; i++)
            {
                cache.Set($"k{i}", new byte[500 + i], new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromMinutes(5) });
                cache.Get($"k{i / 2}");
            }

            map = cache.Map;
        }
        else
        {
            map = new ByteMap(new CMapConfig { Name = name, ShardCount = 2, MeterFactory = factory });
            for (int i = 0; i < 200; i++)
            {
                // Entries with expiry arm the map's expiry timer; deletes give its compactor something to look at.
                map.Insert(BitConverter.GetBytes(i), new byte[500 + i], CMapEntryOptions.ExpireAfter(TimeSpan.FromMinutes(5)));
                if (i % 3 == 0)
                {
                    map.Delete(BitConverter.GetBytes(i / 2));
                }
            }

            map.Insert("large"u8, new byte[300_000]);
        }

        listener.RecordObservableInstruments();
        long nativeBytes = map.GetStatistics().NativeBytes;
        return (new WeakReference(map, trackResurrection: true), nativeBytes);
    }

    /// <summary>Waits for the finalizer queue on a dedicated thread, joined with a timeout, so a finalizer that blocks fails the test.</summary>
    private static bool WaitForPendingFinalizers()
    {
        var thread = new Thread(static () => GC.WaitForPendingFinalizers()) { IsBackground = true, Name = "wait-for-finalizers" };
        thread.Start();
        return thread.Join(s_finalizerTimeout);
    }
}
