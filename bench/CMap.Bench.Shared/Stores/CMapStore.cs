using System;
using System.Globalization;

namespace CMap.Bench.Stores;

/// <summary>The map under test: a <see cref="ByteMap"/> presized for the run. Every read copies into the caller's buffer.</summary>
[Store(Name, 0, "#2a9d8f")]
public sealed class CMapStore : IStore, IStoreSession
{
    public const string Name = "cmap";

    private readonly ByteMap _map;

    public CMapStore(StoreShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        _map = new ByteMap(new CMapConfig { InitialCapacity = shape.Capacity, Seed = shape.Seed });
        Configuration = string.Create(CultureInfo.InvariantCulture, $"ByteMap, {_map.ShardCount} shards, InitialCapacity = {shape.Capacity}, default configuration otherwise");
    }

    public string Configuration { get; }

    public long? Count => _map.Count;

    public IStoreSession OpenSession() => this;

    public StoreKey PrepareKey(byte[] key) => new(key);

    public StoreFootprint Footprint()
    {
        CMapStatistics s = _map.GetStatistics();
        return new StoreFootprint(
            s.NativeBytes,
            string.Create(CultureInfo.InvariantCulture, $"native {Format.Bytes(s.NativeBytes)}: chunks {Format.Bytes(s.ChunkBytes)} (live {Format.Bytes(s.LiveBytes)}, dead {Format.Bytes(s.DeadBytes)}), index {Format.Bytes(s.IndexBytes)}, oversize {Format.Bytes(s.OversizeBytes)}, {s.IndexRebuilds} index rebuilds"));
    }

    /// <summary>Every counter of <see cref="ByteMap.GetStatistics"/> on one line, for a benchmark's log.</summary>
    public string DescribeStatistics()
    {
        CMapStatistics s = _map.GetStatistics();
        return string.Create(
            CultureInfo.InvariantCulture,
            $"Count={s.Count:N0} Live={s.LiveBytes:N0} Dead={s.DeadBytes:N0} Chunks={s.ChunkBytes:N0} Oversize={s.OversizeBytes:N0} Index={s.IndexBytes:N0} Native={s.NativeBytes:N0} PendingRetired={s.PendingRetiredBytes:N0} Rebuilds={s.IndexRebuilds:N0} ChunksAllocated={s.ChunksAllocated:N0} ChunksReturnedToOs={s.ChunksReturnedToOs:N0}");
    }

    public void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => _map.Insert(key, value);

    public bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written) => _map.TryGet(key, destination, out written);

    public void Delete(ReadOnlySpan<byte> key) => _map.Delete(key);

    public void Insert(in StoreKey key, byte[] value) => _map.Insert(key.Bytes, value);

    public bool TryGet(in StoreKey key, Span<byte> destination, out int written) => _map.TryGet(key.Bytes, destination, out written);

    public void Delete(in StoreKey key) => _map.Delete(key.Bytes);

    /// <summary>
    /// The non-allocating <c>GetOrInsert</c>: the stored value reaches a static callback as a span, whose length is
    /// returned (the array form, which returns a fresh copy, allocates the copy).
    /// </summary>
    public int GetOrInsert(in StoreKey key, byte[] value)
    {
        int length = 0;
        _map.GetOrInsert(key.Bytes, value, new LengthBox(ref length), static (stored, box) => box.Length = stored.Length);
        return length;
    }

    /// <summary>Carries a reference to the caller's local into the callback without allocating.</summary>
    private readonly ref struct LengthBox(ref int length)
    {
        private readonly ref int _length = ref length;

        public int Length { set => _length = value; }
    }

    public void Dispose() => _map.Dispose();
}
