using System;
using System.Collections.Generic;
using System.Globalization;
using System.Numerics;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// Settings for a <see cref="ByteMap"/>. Validated when the map is constructed, from one snapshot taken then; every
/// error names the field. Binds from <c>IConfiguration</c> (<c>section.Get&lt;CMapConfig&gt;()</c>): a configured
/// <see cref="ChunkSizes"/> list replaces the default rather than adding to it.
/// </summary>
public sealed partial class CMapConfig
{
    /// <summary>The most a <see cref="MaxValueLength"/> may be set to: 1 GiB.</summary>
    public const int MaxValueLengthLimit = 1 << 30;

    /// <summary>The default <see cref="MaxValueLength"/>: 64 MiB.</summary>
    public const int DefaultMaxValueLength = 64 << 20;

    /// <summary>The most shards a map may have.</summary>
    public const int MaxShardCount = 1 << 16;

    /// <summary>The most entries <see cref="InitialCapacity"/> may ask for: 2^30 (a 16 GiB index up front).</summary>
    public const long MaxInitialCapacity = 1L << 30;

    /// <summary>The smallest chunk size class allowed: 1 KiB (tiny chunks are for tests that force compaction).</summary>
    public const int MinChunkSize = 1 << 10;

    /// <summary>The largest chunk size class allowed: 256 MiB.</summary>
    public const int MaxChunkSize = 1 << 28;

    /// <summary>The chunk size classes used when <see cref="ChunkSizes"/> is not set: 64 KiB, 512 KiB and 2 MiB.</summary>
    public static IReadOnlyList<int> DefaultChunkSizes { get; } = Array.AsReadOnly([64 << 10, 512 << 10, 2 << 20]);

    /// <summary>
    /// Number of shards, a power of two from 1 to <see cref="MaxShardCount"/>. Writers to different shards never
    /// contend, and a shard's index rebuild stalls only that shard's writers. 0 (the default) picks it: from
    /// <see cref="InitialCapacity"/> when that is set (about 8 K entries per shard, at least 4 × the processor count,
    /// at most 1,024), otherwise 32 × the processor count (rounded up to a power of two, between 32 and 1,024).
    /// Set <see cref="InitialCapacity"/> for small maps: fewer shards keep their data in fewer, hotter chunks.
    /// </summary>
    public int ShardCount { get; init; }

    /// <summary>
    /// The XXH3 seed. Null (the default) draws a random seed per map from a cryptographic source, so colliding keys
    /// cannot be crafted offline. A fixed seed is for tests and reproducible benchmarks only, never for keys an
    /// attacker can choose: anyone who knows it can build unlimited keys on one probe chain (for 8-byte keys XXH3
    /// inverts exactly), and every lookup of such a key walks the whole chain.
    /// </summary>
    public ulong? Seed { get; init; }

    /// <summary>
    /// Entries to size the index for up front, so that loading them does not rebuild tables. Default 0; at most
    /// <see cref="MaxInitialCapacity"/>, and no more than the index memory this process can have (about 16 bytes per
    /// entry): a larger value is rejected with the bytes it would need.
    /// </summary>
    public long InitialCapacity { get; init; }

    /// <summary>
    /// Largest value accepted, in bytes, from 0 to <see cref="MaxValueLengthLimit"/>. Default
    /// <see cref="DefaultMaxValueLength"/>.
    /// </summary>
    public int MaxValueLength { get; init; } = DefaultMaxValueLength;

    /// <summary>
    /// Chunk size classes in bytes: 1 to 7 ascending powers of two between <see cref="MinChunkSize"/> and
    /// <see cref="MaxChunkSize"/>. A shard appends to chunks of one class at a time and moves to a larger class as its
    /// live bytes grow. Null (the default) means <see cref="DefaultChunkSizes"/>. An entry larger than half a chunk's
    /// payload (an eighth with <see cref="MaxBytes"/> set) gets a block of its own. With a budget, a shard uses no
    /// class of which 64 chunks per shard would not fit in it. The map copies the list once, when it is constructed.
    /// </summary>
    public IReadOnlyList<int>? ChunkSizes { get; init; }

    /// <summary>
    /// Bytes of free chunks each size class's pool keeps for reuse; chunks beyond it go back to the OS. The same figure
    /// bounds the free large-value blocks kept for reuse (a large value's block, freed by an overwrite or delete, is
    /// reused by the next large value that fits it, which then needs no fresh, page-faulting memory). Pooled memory
    /// is native memory the map holds: it counts against <see cref="MaxBytes"/> (with a budget, the pools keep at most
    /// a thirty-second of it) and is given back by <see cref="ByteMap.Compact"/>, <see cref="ByteMap.Clear"/> and
    /// <see cref="ByteMap.Dispose"/>. Default 16 MiB per class. 0 returns every free chunk and block at once.
    /// </summary>
    public long MaxRetainedChunkBytes { get; init; } = 16L << 20;

    /// <summary>
    /// Compact a shard once its dead entry bytes reach this fraction of its live plus dead bytes (and
    /// <see cref="CompactionMinDeadBytes"/>). Also the reclaimable fraction a chunk needs to be compacted. Between
    /// 0.05 and 0.95; default 0.3.
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

    /// <summary>
    /// The byte budget: every native byte the map holds (chunks, including pooled ones and unused tail space, blocks of
    /// large values, index tables and memory waiting out its grace period). Null (the default): unbounded. When set,
    /// the map evicts its coldest entries to stay within it (see docs/design.md, "Eviction"): writes never fail for
    /// lack of room, and with no reader parked in a read callback the native bytes stay at or under 1.05 × the
    /// budget, as long as the writes in flight at any one moment add up to less than 5% of it (each writer makes room
    /// for its own write before it appends). At least <see cref="GetMinimumMaxBytes"/>; a single entry may take at
    /// most a quarter of it.
    /// </summary>
    public long? MaxBytes { get; init; }

    /// <summary>
    /// The clock expiry is measured on (<see cref="System.TimeProvider.GetTimestamp"/>, a Stopwatch read for the
    /// system clock), and the source of the timer that removes expired entries on an idle map. Null (the default):
    /// <see cref="System.TimeProvider.System"/>. Entries without expiry never read it.
    /// </summary>
    public TimeProvider? TimeProvider { get; init; }

    /// <summary>
    /// How often the map checks, without any read, for chunks holding expired entries, and removes them. Between
    /// 10 ms and 1 day; default 1 s. A check looks at chunk headers, never entries, and a chunk is swept at most once
    /// per interval.
    /// </summary>
    public TimeSpan ExpirationScanInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The map's name: the <c>dotnet.cache.name</c> tag of its instruments on the "CMap" meter. Default "Default", as
    /// MemoryCache's. At most 256 characters.
    /// </summary>
    public string Name { get; init; } = "Default";

    /// <summary>
    /// Where the map's "CMap" meter comes from (with DI, the container's <see cref="System.Diagnostics.Metrics.IMeterFactory"/>).
    /// Null (the default): one meter shared by the process. The instruments are observable: a map nobody listens to
    /// pays nothing for them, and they never keep the map alive.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>The longest <see cref="Name"/>.</summary>
    public const int MaxNameLength = 256;

    /// <summary>The shortest <see cref="ExpirationScanInterval"/>.</summary>
    public static readonly TimeSpan MinExpirationScanInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>The longest <see cref="ExpirationScanInterval"/>.</summary>
    public static readonly TimeSpan MaxExpirationScanInterval = TimeSpan.FromDays(1);

    /// <summary>
    /// The smallest <see cref="MaxBytes"/> these settings allow: for each shard, four chunks of the smallest size class
    /// (a tail for new entries, one for entries that survived eviction, and one of each being emptied) plus its empty
    /// index table. With an automatic <see cref="ShardCount"/>, the figure for one shard: given a budget, the map
    /// picks no more shards than leave room for 64 smallest chunks each, and at least one.
    /// </summary>
    /// <returns>Bytes.</returns>
    public long GetMinimumMaxBytes() => MinimumMaxBytesFor(ShardCount != 0 ? ShardCount : 1, ChunkSizes is { Count: > 0 } c ? c[0] : DefaultChunkSizes[0]);

    internal long MinimumMaxBytesFor(int shards, int smallestChunk) =>
        shards * ((4L * smallestChunk) + IndexTable.BytesFor(IndexTable.CapacityFor((InitialCapacity + shards - 1) / shards)));

    /// <summary>
    /// With a budget, each shard should have room for this many chunks: the automatic shard count and the largest
    /// chunk class are both capped by it, so a shard's probation region (a tenth) spans several chunks and eviction,
    /// which takes a chunk at a time, is fine-grained (docs/design.md, Eviction; hit ratios in docs/benchmarks.md).
    /// </summary>
    internal const int BudgetChunksPerShard = 64;

    /// <summary>Entries per shard the automatic shard count aims for when <see cref="InitialCapacity"/> is set.</summary>
    internal const int EntriesPerShardTarget = 8192;

    internal int ResolveShardCount()
    {
        if (ShardCount != 0)
        {
            return ShardCount;
        }

        int auto = AutomaticShardCount();
        if (MaxBytes is long budget && budget > 0)
        {
            // A budget caps the shards so that BudgetChunksPerShard of each shard's smallest chunks fit in it: each
            // shard then has room for a probation region and a main region of several chunks, so its eviction is not a
            // chunk or two at a time, and the shards' tails (two each, partly empty) stay a small part of the budget
            // (docs/benchmarks.md, hit ratio, measured the difference). Halve until they fit, and until the smallest
            // budget for that many shards does.
            int smallest = ChunkSizes is { Count: > 0 } c ? c[0] : DefaultChunkSizes[0];
            while (auto > 1 && ((long)BudgetChunksPerShard * auto * smallest > budget || MinimumMaxBytesFor(auto, smallest) > budget))
            {
                auto >>= 1;
            }
        }

        return auto;
    }

    private int AutomaticShardCount()
    {

        int cores = (int)BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount);
        if (InitialCapacity > 0)
        {
            // Sized from the expected entries: enough shards that an index rebuild stays small (~8 K entries), but
            // no more than needed, since every shard appends to its own tail chunk and a small map spread over
            // many tails is a cache-hostile map (see the 1 K-entry figures in docs/benchmarks.md).
            long wanted = (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1, InitialCapacity / EntriesPerShardTarget));
            return (int)Math.Clamp(wanted, Math.Min(4L * cores, 1024), 1024);
        }

        return Math.Clamp(cores * 32, 32, 1024);
    }

    /// <summary>
    /// Validates the settings and returns the chunk size classes as a private copy: the list is read exactly once,
    /// so a list that changes between reads can never hand the pools a size that was not validated.
    /// </summary>
    internal int[] Validate()
    {
        if (ShardCount < 0 || ShardCount > MaxShardCount || (ShardCount != 0 && !BitOperations.IsPow2(ShardCount)))
        {
            ThrowHelper.ThrowConfig(nameof(ShardCount), $"must be 0 (automatic) or a power of two from 1 to {MaxShardCount}", ShardCount);
        }

        if (InitialCapacity < 0 || InitialCapacity > MaxInitialCapacity)
        {
            ThrowHelper.ThrowInitialCapacity(InitialCapacity, IndexBytesFor(InitialCapacity, ResolveShardCount()),
                $"must be between 0 and {MaxInitialCapacity:N0} (CMapConfig.MaxInitialCapacity)");
        }

        if (MaxValueLength < 0 || MaxValueLength > MaxValueLengthLimit)
        {
            ThrowHelper.ThrowConfig(nameof(MaxValueLength), $"must be between 0 and {MaxValueLengthLimit} (CMapConfig.MaxValueLengthLimit)", MaxValueLength);
        }

        int[] sizes = ChunkSizes is null ? [.. DefaultChunkSizes] : [.. ChunkSizes];
        if (sizes.Length == 0 || sizes.Length > Chunk.MaxSizeClasses)
        {
            ThrowHelper.ThrowConfig(nameof(ChunkSizes), $"must list 1 to {Chunk.MaxSizeClasses} sizes", sizes.Length);
        }

        for (int i = 0; i < sizes.Length; i++)
        {
            int s = sizes[i];
            if (s < MinChunkSize || s > MaxChunkSize || !BitOperations.IsPow2(s) || (i > 0 && s <= sizes[i - 1]))
            {
                ThrowHelper.ThrowConfig(nameof(ChunkSizes), $"must be ascending powers of two between {MinChunkSize} and {MaxChunkSize}; entry {i}", s);
            }
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

        if (ExpirationScanInterval < MinExpirationScanInterval || ExpirationScanInterval > MaxExpirationScanInterval)
        {
            ThrowHelper.ThrowConfig(nameof(ExpirationScanInterval), $"must be between {MinExpirationScanInterval} and {MaxExpirationScanInterval}", ExpirationScanInterval);
        }

        if (string.IsNullOrEmpty(Name) || Name.Length > MaxNameLength)
        {
            ThrowHelper.ThrowConfig(nameof(Name), $"must be 1 to {MaxNameLength} characters", Name);
        }

        if (MaxBytes is long budget)
        {
            long minimum = MinimumMaxBytesFor(ResolveShardCount(), sizes[0]);
            if (budget < minimum)
            {
                ThrowHelper.ThrowConfig(nameof(MaxBytes), string.Create(CultureInfo.InvariantCulture, $"must be at least {minimum:N0} bytes for these settings ({ResolveShardCount()} shards, each with four {sizes[0]:N0}-byte chunks and an index; CMapConfig.GetMinimumMaxBytes())"), budget);
            }
        }

        ValidateTestHooks();
        return sizes;
    }

    /// <summary>The index bytes <paramref name="entries"/> entries over <paramref name="shards"/> shards take up front.</summary>
    internal static long IndexBytesFor(long entries, int shards)
    {
        // In doubles: the figure is for an error message about sizes far past any real machine, and must not overflow.
        double perShard = Math.Ceiling(Math.Max(0, entries) / (double)shards);
        double capacity = Math.Max(IndexTable.MinCapacity, Math.Ceiling(perShard * 8 / 5 / 8) * 8); // IndexTable.CapacityFor, in doubles
        double bytes = shards * (IndexTable.HeaderSize + (capacity * sizeof(ulong)));
        return bytes >= long.MaxValue ? long.MaxValue : (long)bytes;
    }

    partial void ValidateTestHooks();
}
