using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace CMap.Extensions.Caching;

/// <summary>
/// Options for <see cref="CMapDistributedCache"/>: a mutable mirror of <see cref="CMapConfig"/>, whose <c>init</c>
/// properties cannot be set from an <c>Action&lt;T&gt;</c> or bound through the Options pattern. Null and default
/// values mean CMapConfig's defaults. Validated when the cache is built, with CMapConfig's messages.
/// </summary>
public sealed class CMapCacheOptions
{
    /// <summary>The map's name, its instruments' <c>dotnet.cache.name</c> tag (<see cref="CMapConfig.Name"/>). Default "Default".</summary>
    public string Name { get; set; } = "Default";

    /// <summary>The byte budget (<see cref="CMapConfig.MaxBytes"/>); null: unbounded.</summary>
    public long? MaxBytes { get; set; }

    /// <summary><see cref="CMapConfig.ShardCount"/>; 0: automatic.</summary>
    public int ShardCount { get; set; }

    /// <summary><see cref="CMapConfig.InitialCapacity"/>.</summary>
    public long InitialCapacity { get; set; }

    /// <summary><see cref="CMapConfig.MaxValueLength"/>.</summary>
    public int MaxValueLength { get; set; } = CMapConfig.DefaultMaxValueLength;

    /// <summary><see cref="CMapConfig.ChunkSizes"/>; null: the defaults. A bound list replaces them.</summary>
    public IList<int>? ChunkSizes { get; set; }

    /// <summary><see cref="CMapConfig.MaxRetainedChunkBytes"/>.</summary>
    public long MaxRetainedChunkBytes { get; set; } = new CMapConfig().MaxRetainedChunkBytes;

    /// <summary><see cref="CMapConfig.CompactionDeadRatio"/>.</summary>
    public double CompactionDeadRatio { get; set; } = new CMapConfig().CompactionDeadRatio;

    /// <summary><see cref="CMapConfig.CompactionMinDeadBytes"/>.</summary>
    public long CompactionMinDeadBytes { get; set; } = new CMapConfig().CompactionMinDeadBytes;

    /// <summary><see cref="CMapConfig.BackgroundCompaction"/>.</summary>
    public bool BackgroundCompaction { get; set; } = true;

    /// <summary><see cref="CMapConfig.ExpirationScanInterval"/>.</summary>
    public TimeSpan ExpirationScanInterval { get; set; } = new CMapConfig().ExpirationScanInterval;

    /// <summary>
    /// The clock. Null (the default): the container's <see cref="TimeProvider"/> when it has one, else
    /// <see cref="TimeProvider.System"/>.
    /// </summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>The settings as a <see cref="CMapConfig"/>, with the clock and meter factory the container supplies.</summary>
    internal CMapConfig ToConfig(TimeProvider? fromContainer, IMeterFactory? meterFactory) => new()
    {
        Name = Name,
        MaxBytes = MaxBytes,
        ShardCount = ShardCount,
        InitialCapacity = InitialCapacity,
        MaxValueLength = MaxValueLength,
        ChunkSizes = ChunkSizes is null ? null : [.. ChunkSizes],
        MaxRetainedChunkBytes = MaxRetainedChunkBytes,
        CompactionDeadRatio = CompactionDeadRatio,
        CompactionMinDeadBytes = CompactionMinDeadBytes,
        BackgroundCompaction = BackgroundCompaction,
        ExpirationScanInterval = ExpirationScanInterval,
        TimeProvider = TimeProvider ?? fromContainer,
        MeterFactory = meterFactory,
    };
}
