using CMap.Buffer;
using CMap.Compaction;
using CMap.Hashing;

namespace CMap;

/// <summary>
/// What a shard needs to know, in one object built once per map: the map's memory, the hasher, the chunk size classes and policy, the
/// compaction thresholds, and where to send compaction requests. A shard never reaches back into its map, so a
/// shard can be built without one (restore, tests).
/// </summary>
internal sealed class ShardSettings
{
    /// <summary>The map's native memory: arena, chunk pools, epoch domain and retire list.</summary>
    internal required MapMemory Memory { get; init; }

    internal required KeyHasher Hasher { get; init; }

    /// <summary>Validated chunk size classes in bytes (a private snapshot, never the caller's list).</summary>
    internal required int[] ChunkSizes { get; init; }

    internal required ChunkPolicy ChunkPolicy { get; init; }

    internal required double CompactionDeadRatio { get; init; }

    internal required long CompactionMinDeadBytes { get; init; }

    /// <summary>Where a shard whose dead bytes crossed the thresholds asks for a pass; null when nothing compacts in the background.</summary>
    internal CompactionScheduler? CompactionRequests { get; init; }

    /// <summary>The clock expiry is measured on.</summary>
    internal required ExpiryClock Clock { get; init; }

    /// <summary>A chunk is swept for expired entries at most once per this many timestamp ticks.</summary>
    internal required long SweepIntervalTicks { get; init; }

    /// <summary>The byte budget, or null when the map is unbounded (then nothing is evicted and reads mark nothing).</summary>
    internal MemoryBudget? Budget { get; init; }

    /// <summary>The largest size class the shard may append to (a budget keeps tails small relative to it).</summary>
    internal required int MaxSizeClass { get; init; }

    /// <summary>
    /// [I8] An entry larger than a chunk's payload shifted right by this gets a block of its own: 1 (half the payload)
    /// for an unbounded map; 3 (an eighth) with a budget, where a sealed tail's unused end and a chunk's coarse
    /// eviction are bytes not caching: a tail then wastes at most an eighth of a chunk when an entry does not fit, and
    /// the entries that would have wasted most are evicted one by one, by age.
    /// </summary>
    internal required int LargeEntryShift { get; init; }

    /// <summary>
    /// The chunks a compaction pass or sweep chose, a scratch list that the map's shards share: only the thread that
    /// holds the map's compaction gate touches it (<see cref="Shard.Compact"/>, <see cref="Shard.SweepExpired"/>), one
    /// shard at a time, so a shard costs the garbage collector no list of its own.
    /// </summary>
    internal System.Collections.Generic.List<WalkCandidate> WalkCandidates { get; } = [];
}
