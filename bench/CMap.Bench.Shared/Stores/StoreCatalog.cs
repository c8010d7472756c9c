using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;

namespace CMap.Bench.Stores;

/// <summary>Every store of this folder, found by its <see cref="StoreAttribute"/>, in report order.</summary>
public static class StoreCatalog
{
    /// <summary>The store every ratio is taken against.</summary>
    public const string Baseline = ConcurrentDictionaryStore.Name;

    private static readonly Entry[] s_entries = typeof(StoreCatalog).Assembly.GetTypes()
        .Select(t => (Type: t, Attribute: t.GetCustomAttribute<StoreAttribute>()))
        .Where(x => x.Attribute is not null && typeof(IStore).IsAssignableFrom(x.Type))
        .Select(x => new Entry(x.Attribute!, x.Type))
        .OrderBy(e => e.Attribute.Order)
        .ToArray();

    /// <summary>Every store name, in report order.</summary>
    public static IReadOnlyList<string> Names { get; } = s_entries.Select(e => e.Attribute.Name).ToArray();

    public static bool Contains(string name) => s_entries.Any(e => e.Attribute.Name == name);

    /// <summary>The chart colour of <paramref name="name"/>.</summary>
    public static string Color(string name) => Find(name).Attribute.Color;

    /// <summary>A new, empty store sized for <paramref name="shape"/>.</summary>
    public static IStore Create(string name, StoreShape shape) =>
        (IStore)Activator.CreateInstance(Find(name).Type, shape)!;

    private static Entry Find(string name) =>
        s_entries.FirstOrDefault(e => e.Attribute.Name == name)
        ?? throw new ArgumentException($"Unknown store '{name}'; choose from {string.Join(",", Names)}.", nameof(name));

    private sealed record Entry(StoreAttribute Attribute, Type Type);
}
