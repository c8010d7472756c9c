using System;
using System.Collections.Generic;
using System.Linq;

namespace CMap.HitRatio.Caches;

/// <summary>The caches a run can compare, by command-line name, in report order.</summary>
internal static class CacheCatalog
{
    public const string CMap = "cmap";
    public const string ExactLru = "lru";
    public const string ConcurrentLru = "concurrentlru";
    public const string ConcurrentLfu = "concurrentlfu";
    public const string MemoryCache = "memorycache";

    private static readonly (string Name, string Title, Func<CacheContext, ISimulatedCache> Create)[] s_caches =
    [
        (CMap, "CMap", c => new CMapCache(c)),
        (ExactLru, "exact LRU", c => new ExactLruCache(c)),
        (ConcurrentLru, "ConcurrentLru", c => new ConcurrentLruCache(c)),
        (ConcurrentLfu, "ConcurrentLfu", c => new ConcurrentLfuCache(c)),
        (MemoryCache, "MemoryCache", c => new SizeLimitedMemoryCache(c)),
    ];

    public static IReadOnlyList<string> Names { get; } = s_caches.Select(c => c.Name).ToArray();

    public static bool Contains(string name) => s_caches.Any(c => c.Name == name);

    public static string Title(string name) => Find(name).Title;

    public static ISimulatedCache Create(string name, CacheContext context) => Find(name).Create(context);

    private static (string Name, string Title, Func<CacheContext, ISimulatedCache> Create) Find(string name)
    {
        foreach (var c in s_caches)
        {
            if (c.Name == name)
            {
                return c;
            }
        }

        throw new ArgumentException($"Unknown cache '{name}'; choose from {string.Join(",", Names)}.", nameof(name));
    }
}
