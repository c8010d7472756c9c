using System;
using System.Collections.Concurrent;
using System.Globalization;

namespace CMap.Bench.Stores;

/// <summary>
/// The baseline of every ratio: a presized <see cref="ConcurrentDictionary{TKey, TValue}"/> of byte arrays with a
/// content comparer. Span calls go through <see cref="ConcurrentDictionary{TKey, TValue}.GetAlternateLookup{TAlternateKey}"/>
/// (no key allocated for a lookup; key and value copied on insert); prepared-key calls use the arrays themselves.
/// </summary>
[Store(Name, 1, "#264653")]
public sealed class ConcurrentDictionaryStore : IStore, IStoreSession
{
    public const string Name = "concurrentdictionary";

    private readonly ConcurrentDictionary<byte[], byte[]> _map;
    private readonly ConcurrentDictionary<byte[], byte[]>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    public ConcurrentDictionaryStore(StoreShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        _map = new ConcurrentDictionary<byte[], byte[]>(Environment.ProcessorCount, shape.Capacity, ByteArrayComparer.Instance);
        _lookup = _map.GetAlternateLookup<ReadOnlySpan<byte>>();
        Configuration = string.Create(CultureInfo.InvariantCulture, $"ConcurrentDictionary<byte[], byte[]>, capacity {shape.Capacity}, content comparer (HashCode.AddBytes), span lookups via GetAlternateLookup");
    }

    public string Configuration { get; }

    public long? Count => _map.Count;

    public IStoreSession OpenSession() => this;

    public StoreKey PrepareKey(byte[] key) => new(key);

    public StoreFootprint? Footprint() => null;

    public void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => _lookup[key] = value.ToArray();

    public bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written) =>
        CopyOut(_lookup.TryGetValue(key, out byte[]? value) ? value : null, destination, out written);

    public void Delete(ReadOnlySpan<byte> key) => _lookup.TryRemove(key, out _, out _);

    public void Insert(in StoreKey key, byte[] value) => _map[key.Bytes] = value;

    public bool TryGet(in StoreKey key, Span<byte> destination, out int written) =>
        CopyOut(_map.TryGetValue(key.Bytes, out byte[]? value) ? value : null, destination, out written);

    public void Delete(in StoreKey key) => _map.TryRemove(key.Bytes, out _);

    /// <summary><c>GetOrAdd(key, value)</c>: a hit hands back the array the dictionary holds.</summary>
    public int GetOrInsert(in StoreKey key, byte[] value) => _map.GetOrAdd(key.Bytes, value).Length;

    public void Dispose()
    {
    }

    /// <summary>What a caller of a managed map does after the lookup: copy the value into its buffer.</summary>
    internal static bool CopyOut(byte[]? value, Span<byte> destination, out int written)
    {
        if (value is null)
        {
            written = 0;
            return false;
        }

        written = value.Length;
        return value.AsSpan().TryCopyTo(destination);
    }
}
