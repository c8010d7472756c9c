using System;
using CMap.Buffer;
using CMap.Compaction;

namespace CMap;

// Test-only settings, all internal. Each is honoured only when TestHooks is armed (the test projects).
public sealed partial class CMapConfig
{
    /// <summary>Test hook: makes the compaction scheduler (default: one background thread).</summary>
    internal Func<CompactionScheduler>? CompactionSchedulerFactory { get; init; }

    /// <summary>Test hook: ANDed into every hash, to force tag, shard and slot collisions.</summary>
    internal ulong HashMask { get; init; } = ulong.MaxValue;

    /// <summary>Test hook: chunks returned to the pool are overwritten with <see cref="ChunkPool.PoisonByte"/>.</summary>
    internal bool PoisonFreedChunks { get; init; }

    /// <summary>Test hook: how shards choose chunk size classes (default <see cref="ChunkPolicy.Default"/>).</summary>
    internal ChunkPolicy? ChunkPolicy { get; init; }

    partial void ValidateTestHooks()
    {
        if (CompactionSchedulerFactory is not null || HashMask != ulong.MaxValue || PoisonFreedChunks || ChunkPolicy is not null)
        {
            TestHooks.Require("A CMapConfig test setting");
        }
    }
}
