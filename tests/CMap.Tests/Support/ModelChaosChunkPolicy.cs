using CMap.Compaction;
using System.Collections.Generic;
using System.Threading;
using CMap;

namespace CMap.Tests.Support;

/// <summary>
/// A legal but adversarial <see cref="ChunkPolicy"/>: every call picks a pseudo-random size class (seeded, and
/// thread-safe since shards call it concurrently). Chunks of every class then sit side by side in a shard, tails
/// change class at every seal, and the oversize threshold moves all the time.
/// </summary>
internal sealed class ModelChaosChunkPolicy(int seed) : ChunkPolicy
{
    private long _calls;

    public long Calls => Volatile.Read(ref _calls);

    public override int SelectSizeClass(long liveBytes, int currentClass, IReadOnlyList<int> chunkSizes)
    {
        ulong z = (ulong)Interlocked.Increment(ref _calls) + ((ulong)(uint)seed << 32);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        z ^= z >> 31;
        return (int)(z % (ulong)chunkSizes.Count);
    }
}
