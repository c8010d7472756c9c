using System;

namespace CMap.Bench.Stores;

/// <summary>
/// One of the compared maps, behind the operations every tool in bench/ times. Threads work on it through sessions,
/// one per thread. Implementations are the files of this folder, each marked with <see cref="StoreAttribute"/>:
/// adding a store to every comparison is adding one such file (and, for the BenchmarkDotNet suites, one benchmark
/// method per suite, since BenchmarkDotNet takes its baseline from a method).
/// </summary>
public interface IStore : IDisposable
{
    /// <summary>How the store was set up, for the reports.</summary>
    string Configuration { get; }

    /// <summary>Entries held now, or null where counting is not part of the store's API (FASTER).</summary>
    long? Count { get; }

    /// <summary>
    /// A handle for one thread's operations. FASTER needs one per thread; the other stores return themselves.
    /// Sessions stay valid until the store is disposed, which closes them.
    /// </summary>
    IStoreSession OpenSession();

    /// <summary>
    /// <paramref name="key"/> in the form this store's own API takes (MemoryCache: a hex string), made once in setup
    /// so that the BenchmarkDotNet suites time the store and not a key conversion. The store may keep the array.
    /// </summary>
    StoreKey PrepareKey(byte[] key);

    /// <summary>What the store reports about its own memory, or null when it reports nothing.</summary>
    StoreFootprint? Footprint();
}

/// <summary>
/// The operations the tools time. Used by one thread at a time. Two flavours:
/// <list type="bullet">
/// <item>Spans (the comparison tool): every store copies key and value, and converts the key as its API needs on
/// every call (MemoryCache builds a hex string: part of what it costs to use it as a byte map).</item>
/// <item>Prepared keys (the BenchmarkDotNet suites): keys come from <see cref="IStore.PrepareKey"/>, and the
/// managed stores keep the value array they are given, as a caller of theirs would; CMap and FASTER copy the
/// bytes. That difference is part of what those suites measure.</item>
/// </list>
/// </summary>
public interface IStoreSession
{
    /// <summary>Adds the key or replaces its value.</summary>
    void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);

    /// <summary>Copies the key's value into <paramref name="destination"/>; false when absent or too large
    /// (<paramref name="written"/> is then the value's length, or 0 when absent).</summary>
    bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written);

    /// <summary>Removes the key if present.</summary>
    void Delete(ReadOnlySpan<byte> key);

    /// <inheritdoc cref="Insert(ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    void Insert(in StoreKey key, byte[] value);

    /// <inheritdoc cref="TryGet(ReadOnlySpan{byte}, Span{byte}, out int)"/>
    bool TryGet(in StoreKey key, Span<byte> destination, out int written);

    /// <inheritdoc cref="Delete(ReadOnlySpan{byte})"/>
    void Delete(in StoreKey key);

    /// <summary>Returns the key's value if present, else inserts <paramref name="value"/>; returns the length of
    /// the value the key now has. Each store does it the way its API offers (see the adapters).</summary>
    int GetOrInsert(in StoreKey key, byte[] value);
}

/// <summary>A key as <see cref="IStore.PrepareKey"/> made it: the bytes, and the text form for stores keyed by strings.</summary>
public readonly struct StoreKey : IEquatable<StoreKey>
{
    public StoreKey(byte[] bytes, string? text = null)
    {
        Bytes = bytes;
        Text = text;
    }

    public byte[] Bytes { get; }

    public string? Text { get; }

    public static bool operator ==(StoreKey left, StoreKey right) => left.Equals(right);

    public static bool operator !=(StoreKey left, StoreKey right) => !left.Equals(right);

    public bool Equals(StoreKey other) => ReferenceEquals(Bytes, other.Bytes) && Text == other.Text;

    public override bool Equals(object? obj) => obj is StoreKey other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Bytes, Text);
}

/// <summary>What a store is sized for: the entries it will hold, key and value sizes, and the run's seed.</summary>
public sealed record StoreShape(int Capacity, int KeySize, int ValueSize, ulong Seed);

/// <summary>Memory a store accounts for itself: native bytes outside the GC heap, and a free-form breakdown.</summary>
public sealed record StoreFootprint(long? NativeBytes, string Detail);
