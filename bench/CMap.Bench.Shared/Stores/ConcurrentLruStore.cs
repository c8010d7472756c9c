using System;
using System.Globalization;
using BitFaster.Caching;
using BitFaster.Caching.Lru;

namespace CMap.Bench.Stores;

/// <summary>
/// BitFaster.Caching's <see cref="ConcurrentLru{K, V}"/> (2.6.1) of byte arrays with the content comparer, sized to
/// hold every entry the run loads (capacity = <see cref="StoreShape.Capacity"/>), so nothing is evicted and it competes
/// as a map: what its hot/warm/cold bookkeeping costs on top of the <see cref="System.Collections.Concurrent.ConcurrentDictionary{TKey, TValue}"/>
/// it is built on. Span calls go through its alternate lookup (no key allocated for a lookup; key and value copied on
/// insert); prepared-key calls use the arrays themselves.
/// </summary>
[Store(Name, 4, "#8ab17d")]
public sealed class ConcurrentLruStore : IStore, IStoreSession
{
    public const string Name = "concurrentlru";

    private readonly ConcurrentLru<byte[], byte[]> _cache;
    private readonly IAlternateLookup<ReadOnlySpan<byte>, byte[], byte[]> _lookup;
    private byte[]? _factoryValue;
    private Func<byte[], byte[]>? _factory;

    public ConcurrentLruStore(StoreShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);

        // At least 3: one entry for each of its hot, warm and cold queues.
        int capacity = Math.Max(3, shape.Capacity);
        _cache = new ConcurrentLru<byte[], byte[]>(Environment.ProcessorCount, capacity, ByteArrayComparer.Instance);
        _lookup = _cache.GetAlternateLookup<ReadOnlySpan<byte>>();
        Configuration = string.Create(CultureInfo.InvariantCulture, $"BitFaster.Caching ConcurrentLru<byte[], byte[]> 2.6.1, capacity {capacity} (every entry fits), content comparer (HashCode.AddBytes), span lookups via GetAlternateLookup");
    }

    public string Configuration { get; }

    public long? Count => _cache.Count;

    public IStoreSession OpenSession() => this;

    public StoreKey PrepareKey(byte[] key) => new(key);

    public StoreFootprint? Footprint() => null;

    public void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => _lookup.AddOrUpdate(key, value.ToArray());

    public bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written) =>
        ConcurrentDictionaryStore.CopyOut(_lookup.TryGet(key, out byte[]? value) ? value : null, destination, out written);

    public void Delete(ReadOnlySpan<byte> key) => _lookup.TryRemove(key, out _, out _);

    public void Insert(in StoreKey key, byte[] value) => _cache.AddOrUpdate(key.Bytes, value);

    public bool TryGet(in StoreKey key, Span<byte> destination, out int written) =>
        ConcurrentDictionaryStore.CopyOut(_cache.TryGet(key.Bytes, out byte[]? value) ? value : null, destination, out written);

    public void Delete(in StoreKey key) => _cache.TryRemove(key.Bytes);

    /// <summary><c>GetOrAdd(key, factory)</c> with a factory made once per value: a hit hands back the array it holds.</summary>
    public int GetOrInsert(in StoreKey key, byte[] value)
    {
        if (!ReferenceEquals(value, _factoryValue))
        {
            _factoryValue = value;
            _factory = _ => value;
        }

        return _cache.GetOrAdd(key.Bytes, _factory!).Length;
    }

    public void Dispose()
    {
    }
}
