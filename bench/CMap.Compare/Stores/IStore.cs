using System;

namespace CMap.Compare;

/// <summary>One of the compared maps. Threads work on it through sessions: one per thread.</summary>
internal interface IStore : IDisposable
{
    /// <summary>How the store was set up, for the report.</summary>
    string Configuration { get; }

    /// <summary>
    /// A handle for one thread's operations. FASTER needs one per thread; the other stores return themselves.
    /// Sessions stay valid until the store is disposed, which closes them.
    /// </summary>
    IStoreSession OpenSession();

    /// <summary>What the store reports about its own memory, or null when it reports nothing.</summary>
    StoreFootprint? Footprint();
}

/// <summary>The operations the comparison times. Used by one thread at a time.</summary>
internal interface IStoreSession
{
    /// <summary>Adds the key or replaces its value.</summary>
    void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);

    /// <summary>Copies the key's value into <paramref name="destination"/>; false when absent or too large.</summary>
    bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written);

    /// <summary>Removes the key if present.</summary>
    void Delete(ReadOnlySpan<byte> key);
}

/// <summary>Memory a store accounts for itself: native bytes outside the GC heap, and a free-form breakdown.</summary>
internal sealed record StoreFootprint(long? NativeBytes, string Detail);
