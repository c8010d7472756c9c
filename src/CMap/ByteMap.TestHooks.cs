using CMap.Buffer;

namespace CMap;

/// <summary>Test-only views of a map's internals. Not part of the public API.</summary>
public sealed partial class ByteMap
{
    /// <summary>The arena that owns every native byte of this map.</summary>
    internal NativeArena ArenaForTests => _arena;

    /// <summary>Retired memory waiting for its grace period, with counters of what was freed and when.</summary>
    internal RetireList RetiredForTests => _retired;

    /// <summary>Managed chunk objects the pools have constructed (not counting re-armed ones).</summary>
    internal long ChunkObjectsCreatedForTests => System.Threading.Volatile.Read(ref _pool.Counters.ChunkObjectsCreated);

    /// <summary>The seed the map hashes with.</summary>
    internal ulong SeedForTests => _seed;

    /// <summary>Shard <paramref name="index"/>, for per-shard accounting checks.</summary>
    internal Shard ShardForTests(int index) => _shards[index];
}
