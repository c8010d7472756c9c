using System;
using System.Diagnostics;
using CMap.HitRatio.Caches;
using CMap.HitRatio.Traces;
using Trace = CMap.HitRatio.Traces.Trace;

namespace CMap.HitRatio;

/// <summary>Feeds one trace to one fresh cache: every request looks up, a miss inserts; counts after the warm-up.</summary>
internal static class Simulation
{
    public static CacheRun Run(string cacheName, Trace trace, CacheContext context)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(context);
        KeySpace keys = context.Keys;
        long start = Stopwatch.GetTimestamp();
        try
        {
            using ISimulatedCache cache = CacheCatalog.Create(cacheName, context);
            int[] requests = trace.Requests;
            for (int i = 0; i < trace.Warmup; i++)
            {
                int id = requests[i];
                cache.Access(id, keys.ValueSize(id));
            }

            var cmap = cache as CMapCache;
            cmap?.StartCounting();
            long hits = 0, hitBytes = 0, requestBytes = 0;
            for (int i = trace.Warmup; i < requests.Length; i++)
            {
                int id = requests[i];
                int valueSize = keys.ValueSize(id);
                long bytes = KeySpace.KeySize + valueSize;
                requestBytes += bytes;
                if (cache.Access(id, valueSize))
                {
                    hits++;
                    hitBytes += bytes;
                }
            }

            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return new CacheRun(cacheName, cache.Configuration, requests.Length - trace.Warmup, hits, requestBytes, hitBytes, seconds, cache.Notes(), cmap?.Detail(), null);
        }
#pragma warning disable CA1031 // A cache that fails (e.g. a budget under CMap's minimum) is reported in its cell; the others still run.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return new CacheRun(cacheName, "", 0, 0, 0, 0, Stopwatch.GetElapsedTime(start).TotalSeconds, "", null, $"{e.GetType().Name}: {e.Message}");
        }
    }
}
