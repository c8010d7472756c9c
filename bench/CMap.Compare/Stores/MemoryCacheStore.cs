using System;
using Microsoft.Extensions.Caching.Memory;

namespace CMap.Compare;

/// <summary>
/// <see cref="MemoryCache"/> without a size limit. Its keys are objects, so each operation turns the byte key
/// into a hex string first: that allocation is part of what using MemoryCache for byte keys costs.
/// </summary>
internal sealed class MemoryCacheStore : IStore, IStoreSession
{
    private readonly MemoryCache _cache = new(new MemoryCacheOptions());

    public string Configuration => "MemoryCache (Microsoft.Extensions.Caching.Memory), no size limit, hex-string keys (Convert.ToHexString per operation), byte[] values copied on insert";

    public IStoreSession OpenSession() => this;

    public void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => _cache.Set(Convert.ToHexString(key), value.ToArray());

    public bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written)
    {
        if (!_cache.TryGetValue(Convert.ToHexString(key), out object? found) || found is not byte[] value)
        {
            written = 0;
            return false;
        }

        written = value.Length;
        return value.AsSpan().TryCopyTo(destination);
    }

    public void Delete(ReadOnlySpan<byte> key) => _cache.Remove(Convert.ToHexString(key));

    public StoreFootprint? Footprint() => null;

    public void Dispose() => _cache.Dispose();
}
