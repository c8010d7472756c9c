using System;
using Microsoft.Extensions.Caching.Memory;

namespace CMap.Bench.Stores;

/// <summary>
/// <see cref="MemoryCache"/> without a size limit. Its keys are objects, so a byte key becomes a hex string: on every
/// span call (that allocation is part of what using MemoryCache as a byte map costs), or once in
/// <see cref="PrepareKey"/> for the prepared-key calls.
/// </summary>
[Store(Name, 2, "#e9c46a")]
public sealed class MemoryCacheStore : IStore, IStoreSession
{
    public const string Name = "memorycache";

    private readonly MemoryCache _cache = new(new MemoryCacheOptions());
    private byte[]? _factoryValue;
    private Func<ICacheEntry, byte[]>? _factory;

    public MemoryCacheStore(StoreShape shape) => ArgumentNullException.ThrowIfNull(shape);

    public string Configuration => "MemoryCache (Microsoft.Extensions.Caching.Memory), no size limit, hex-string keys, byte[] values";

    public long? Count => _cache.Count;

    public IStoreSession OpenSession() => this;

    public StoreKey PrepareKey(byte[] key) => new(key, Convert.ToHexString(key));

    public StoreFootprint? Footprint() => null;

    public void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => _cache.Set(Convert.ToHexString(key), value.ToArray());

    public bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written) => TryGet(Convert.ToHexString(key), destination, out written);

    public void Delete(ReadOnlySpan<byte> key) => _cache.Remove(Convert.ToHexString(key));

    public void Insert(in StoreKey key, byte[] value) => _cache.Set(key.Text!, value);

    public bool TryGet(in StoreKey key, Span<byte> destination, out int written) => TryGet(key.Text!, destination, out written);

    public void Delete(in StoreKey key) => _cache.Remove(key.Text!);

    /// <summary><c>GetOrCreate</c> with a factory delegate made once per value (so a hit allocates nothing of ours).</summary>
    public int GetOrInsert(in StoreKey key, byte[] value)
    {
        if (!ReferenceEquals(value, _factoryValue))
        {
            _factoryValue = value;
            _factory = _ => value;
        }

        return _cache.GetOrCreate(key.Text!, _factory!)!.Length;
    }

    public void Dispose() => _cache.Dispose();

    private bool TryGet(string key, Span<byte> destination, out int written) =>
        ConcurrentDictionaryStore.CopyOut(_cache.TryGetValue(key, out object? found) ? found as byte[] : null, destination, out written);
}
