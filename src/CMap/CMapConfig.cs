using System;
using System.Collections.Generic;
using System.Numerics;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// Settings for a <see cref="ByteMap"/>. Validated when the map is constructed; every error names the field.
/// </summary>
public sealed class CMapConfig
{
    /// <summary>The most a <see cref="MaxValueLength"/> may be set to: 1 GiB.</summary>
    public const int MaxValueLengthLimit = 1 << 30;

    /// <summary>The default <see cref="MaxValueLength"/>: 64 MiB.</summary>
    public const int DefaultMaxValueLength = 64 << 20;

    /// <summary>The most shards a map may have.</summary>
    public const int MaxShardCount = 1 << 16;

    /// <summary>The smallest chunk size class allowed: 1 KiB (tiny chunks are for tests that force compaction).</summary>
    public const int MinChunkSize = 1 << 10;

    /// <summary>The largest chunk size class allowed: 256 MiB.</summary>
    public const int MaxChunkSize = 1 << 28;

    /// <summary>
    /// Number of shards, a power of two from 1 to <see cref="MaxShardCount"/>. Writers to different shards never
    /// contend, and a shard's index rebuild stalls only that shard's writers. 0 (the default) picks it: from
    /// <see cref="InitialCapacity"/> when that is set (about 8 K entries per shard, at least 4 × the processor count,
    /// at most 1,024), otherwise 32 × the processor count (rounded up to a power of two, between 32 and 1,024).
    /// Set <see cref="InitialCapacity"/> for small maps: fewer shards keep their data in fewer, hotter chunks.
    /// </summary>
    public int ShardCount { get; init; }

    /// <summary>
    /// The XXH3 seed. Null (the default) draws a random seed per map, so colliding keys cannot be crafted offline.
    /// Fix it only for reproducible tests and benchmarks.
    /// </summary>
    public ulong? Seed { get; init; }

    /// <summary>Entries to size the index for up front, so that loading them does not rebuild tables. Default 0.</summary>
    public long InitialCapacity { get; init; }

    /// <summary>
    /// Largest value accepted, in bytes, from 0 to <see cref="MaxValueLengthLimit"/>. Default
    /// <see cref="DefaultMaxValueLength"/>.
    /// </summary>
    public int MaxValueLength { get; init; } = DefaultMaxValueLength;

    /// <summary>
    /// Chunk size classes in bytes: 1 to 7 ascending powers of two between <see cref="MinChunkSize"/> and
    /// <see cref="MaxChunkSize"/>. A shard appends to chunks of one class at a time and moves to a larger class
    /// as its live bytes grow. Default 64 KiB, 512 KiB and 2 MiB. An entry larger than half a chunk's payload
    /// gets a block of its own.
    /// </summary>
    public IReadOnlyList<int> ChunkSizes { get; init; } = [64 << 10, 512 << 10, 2 << 20];

    /// <summary>
    /// Bytes of free chunks each size class's pool keeps for reuse; chunks beyond it go back to the OS.
    /// Default 16 MiB per class. 0 returns every free chunk at once.
    /// </summary>
    public long MaxRetainedChunkBytes { get; init; } = 16L << 20;

    /// <summary>
    /// How the next chunk's size class is chosen from a shard's live bytes. Default <see cref="ChunkPolicy.Default"/>.
    /// </summary>
    public ChunkPolicy ChunkPolicy { get; init; } = ChunkPolicy.Default;

    /// <summary>
    /// Compact a shard once its dead bytes reach this fraction of its live plus dead bytes (and
    /// <see cref="CompactionMinDeadBytes"/>). Also the dead fraction a chunk needs to be compacted. Between 0.05 and
    /// 0.95; default 0.3.
    /// </summary>
    public double CompactionDeadRatio { get; init; } = 0.3;

    /// <summary>A shard is not compacted before it has this many dead bytes. Default 32 KiB; at least 0.</summary>
    public long CompactionMinDeadBytes { get; init; } = 32 << 10;

    /// <summary>
    /// Run compaction on a background thread (one per map) when shards cross the thresholds. Default true.
    /// When false, dead bytes are reclaimed only by <see cref="ByteMap.Compact"/> (chunks whose entries all died
    /// are still freed at once).
    /// </summary>
    public bool BackgroundCompaction { get; init; } = true;

    /// <summary>Test hook: makes the compaction scheduler (default: one background thread).</summary>
    internal Func<Compaction.CompactionScheduler>? CompactionSchedulerFactory { get; init; }

    /// <summary>Test hook: ANDed into every hash, to force tag, shard and slot collisions.</summary>
    internal ulong HashMask { get; init; } = ulong.MaxValue;

    /// <summary>Test hook: chunks returned to the pool are overwritten with <see cref="ChunkPool.PoisonByte"/>.</summary>
    internal bool PoisonFreedChunks { get; init; }

    /// <summary>Entries per shard the automatic shard count aims for when <see cref="InitialCapacity"/> is set.</summary>
    internal const int EntriesPerShardTarget = 8192;

    internal int ResolveShardCount()
    {
        if (ShardCount != 0)
        {
            return ShardCount;
        }

        int cores = (int)BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount);
        if (InitialCapacity > 0)
        {
            // Sized from the expected entries: enough shards that an index rebuild stays small (~8 K entries), but
            // no more than needed, since every shard appends to its own tail chunk and a small map spread over
            // many tails is a cache-hostile map (a scratch measurement at 1 K entries: 141 ns per overwrite with 64
            // shards, 42 with 8; the BenchmarkDotNet overwrite ratio at 1 K went from 3.65x to 1.18x).
            long wanted = (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1, InitialCapacity / EntriesPerShardTarget));
            return (int)Math.Clamp(wanted, Math.Min(4L * cores, 1024), 1024);
        }

        return Math.Clamp(cores * 32, 32, 1024);
    }

    internal void Validate()
    {
        if (ShardCount < 0 || ShardCount > MaxShardCount || (ShardCount != 0 && !BitOperations.IsPow2(ShardCount)))
        {
            ThrowHelper.ThrowConfig(nameof(ShardCount), $"must be 0 (automatic) or a power of two from 1 to {MaxShardCount}", ShardCount);
        }

        if (InitialCapacity < 0 || InitialCapacity > (1L << 40))
        {
            ThrowHelper.ThrowConfig(nameof(InitialCapacity), "must be between 0 and 2^40", InitialCapacity);
        }

        if (MaxValueLength < 0 || MaxValueLength > MaxValueLengthLimit)
        {
            ThrowHelper.ThrowConfig(nameof(MaxValueLength), $"must be between 0 and {MaxValueLengthLimit} (CMapConfig.MaxValueLengthLimit)", MaxValueLength);
        }

        if (ChunkSizes is null || ChunkSizes.Count == 0 || ChunkSizes.Count > Chunk.MaxSizeClasses)
        {
            ThrowHelper.ThrowConfig(nameof(ChunkSizes), $"must list 1 to {Chunk.MaxSizeClasses} sizes", ChunkSizes?.Count);
        }

        for (int i = 0; i < ChunkSizes.Count; i++)
        {
            int s = ChunkSizes[i];
            if (s < MinChunkSize || s > MaxChunkSize || !BitOperations.IsPow2(s) || (i > 0 && s <= ChunkSizes[i - 1]))
            {
                ThrowHelper.ThrowConfig(nameof(ChunkSizes), $"must be ascending powers of two between {MinChunkSize} and {MaxChunkSize}; entry {i}", s);
            }
        }

        if (ChunkPolicy is null)
        {
            ThrowHelper.ThrowConfig(nameof(ChunkPolicy), "must not be null", null);
        }

        if (!(CompactionDeadRatio >= 0.05 && CompactionDeadRatio <= 0.95))
        {
            ThrowHelper.ThrowConfig(nameof(CompactionDeadRatio), "must be between 0.05 and 0.95", CompactionDeadRatio);
        }

        if (CompactionMinDeadBytes < 0)
        {
            ThrowHelper.ThrowConfig(nameof(CompactionMinDeadBytes), "must not be negative", CompactionMinDeadBytes);
        }

        if (MaxRetainedChunkBytes < 0)
        {
            ThrowHelper.ThrowConfig(nameof(MaxRetainedChunkBytes), "must not be negative", MaxRetainedChunkBytes);
        }
    }
}
