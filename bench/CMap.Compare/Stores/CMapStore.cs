using System;
using System.Globalization;

namespace CMap.Compare;

/// <summary>The map under test: a <see cref="ByteMap"/> sized for the run up front.</summary>
internal sealed class CMapStore : IStore, IStoreSession
{
    private readonly ByteMap _map;

    public CMapStore(int entries, ulong seed)
    {
        _map = new ByteMap(new CMapConfig { InitialCapacity = entries, Seed = seed });
        Configuration = string.Create(CultureInfo.InvariantCulture, $"ByteMap, {_map.ShardCount} shards, InitialCapacity = {entries}, default chunk sizes");
    }

    public string Configuration { get; }

    public IStoreSession OpenSession() => this;

    public void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => _map.Insert(key, value);

    public bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written) => _map.TryGet(key, destination, out written);

    public void Delete(ReadOnlySpan<byte> key) => _map.Delete(key);

    public StoreFootprint Footprint()
    {
        CMapStatistics s = _map.GetStatistics();
        return new StoreFootprint(
            s.NativeBytes,
            string.Create(CultureInfo.InvariantCulture, $"native {Format.Bytes(s.NativeBytes)}: chunks {Format.Bytes(s.ChunkBytes)} (live {Format.Bytes(s.LiveBytes)}, dead {Format.Bytes(s.DeadBytes)}), index {Format.Bytes(s.IndexBytes)}, oversize {Format.Bytes(s.OversizeBytes)}, {s.IndexRebuilds} index rebuilds"));
    }

    public void Dispose() => _map.Dispose();
}
