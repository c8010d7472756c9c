using System;

namespace CMap.Buffer;

/// <summary>
/// Everything that owns native memory for one map, built and torn down together: the arena that counts every byte,
/// the chunk pools, the map's own epoch domain and the retire list that frees memory once that domain's readers are
/// done with it. A shard is handed this and never reaches further.
/// </summary>
internal sealed class MapMemory
{
    /// <param name="chunkSizes">The chunk size classes.</param>
    /// <param name="maxRetainedBytesPerClass">Bytes of free chunks each class keeps for reuse; also the bytes of free oversize blocks kept.</param>
    /// <param name="poisonFreedChunks">Test mode: poison freed chunks and reuse no block.</param>
    internal MapMemory(int[] chunkSizes, long maxRetainedBytesPerClass, bool poisonFreedChunks)
    {
        Arena = new NativeArena();
        int[] retained = Array.ConvertAll(chunkSizes, s => (int)Math.Min(int.MaxValue, maxRetainedBytesPerClass / s));
        Pool = new ChunkPool(Arena, chunkSizes, retained, poisonFreedChunks, maxRetainedBytesPerClass);
        Epoch = new EpochDomain();
        Retired = new RetireList(Arena, Pool, Epoch);
    }

    internal NativeArena Arena { get; }

    internal ChunkPool Pool { get; }

    internal EpochDomain Epoch { get; }

    internal RetireList Retired { get; }
}
