using System;

namespace CMap.Bench.Stores;

/// <summary>Marks an <see cref="IStore"/> for <see cref="StoreCatalog"/>; the class needs a constructor taking a <see cref="StoreShape"/>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class StoreAttribute(string name, int order, string color) : Attribute
{
    /// <summary>The name on the command line and in reports: lower case, no spaces.</summary>
    public string Name { get; } = name;

    /// <summary>Position in reports and in each round of the comparison tool.</summary>
    public int Order { get; } = order;

    /// <summary>Fill colour in charts (the same in every run).</summary>
    public string Color { get; } = color;
}
