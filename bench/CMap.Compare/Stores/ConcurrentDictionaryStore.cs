using System;
using System.Collections.Concurrent;
using System.Globalization;

namespace CMap.Compare;

/// <summary>The baseline: a presized <see cref="ConcurrentDictionary{TKey, TValue}"/> of copied byte arrays.</summary>
internal sealed class ConcurrentDictionaryStore : IStore, IStoreSession
{
    private readonly ConcurrentDictionary<byte[], byte[]>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    public ConcurrentDictionaryStore(int entries)
    {
        var map = new ConcurrentDictionary<byte[], byte[]>(Environment.ProcessorCount, entries, ByteArrayComparer.Instance);
        _lookup = map.GetAlternateLookup<ReadOnlySpan<byte>>();
        Configuration = string.Create(CultureInfo.InvariantCulture, $"ConcurrentDictionary<byte[], byte[]>, capacity {entries}, content comparer (HashCode.AddBytes), span lookups via GetAlternateLookup, key and value copied on insert");
    }

    public string Configuration { get; }

    public IStoreSession OpenSession() => this;

    public void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => _lookup[key] = value.ToArray();

    public bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written)
    {
        if (!_lookup.TryGetValue(key, out byte[]? value))
        {
            written = 0;
            return false;
        }

        written = value.Length;
        return value.AsSpan().TryCopyTo(destination);
    }

    public void Delete(ReadOnlySpan<byte> key) => _lookup.TryRemove(key, out _, out _);

    public StoreFootprint? Footprint() => null;

    public void Dispose()
    {
    }
}
