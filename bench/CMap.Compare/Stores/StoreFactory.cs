using System;
using System.Collections.Generic;

namespace CMap.Compare;

internal static class StoreFactory
{
    public const string CMap = "cmap";
    public const string ConcurrentDictionary = "concurrentdictionary";
    public const string MemoryCache = "memorycache";
    public const string Faster = "faster";

    /// <summary>Every store, in report order; <see cref="ConcurrentDictionary"/> is the baseline of the ratios.</summary>
    public static IReadOnlyList<string> Names { get; } = [CMap, ConcurrentDictionary, MemoryCache, Faster];

    public static IStore Create(string name, int entries, int keySize, int valueSize, ulong seed) => name switch
    {
        CMap => new CMapStore(entries, seed),
        ConcurrentDictionary => new ConcurrentDictionaryStore(entries),
        MemoryCache => new MemoryCacheStore(),
        Faster => new FasterStore(entries, keySize, valueSize),
        _ => throw new ArgumentException($"Unknown store '{name}'.", nameof(name)),
    };
}
