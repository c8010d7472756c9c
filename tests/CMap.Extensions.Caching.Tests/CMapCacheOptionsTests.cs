using System;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace CMap.Extensions.Caching.Tests;

/// <summary>CMapCacheOptions mirrors CMapConfig: the same defaults, and every setting carried over.</summary>
public sealed class CMapCacheOptionsTests
{
    [Fact]
    public void The_defaults_are_CMapConfigs()
    {
        var options = new CMapCacheOptions();
        var config = new CMapConfig();
        CMapConfig mapped = options.ToConfig(null, null);

        Assert.Equal(config.Name, options.Name);
        Assert.Equal(config.MaxBytes, options.MaxBytes);
        Assert.Equal(config.ShardCount, options.ShardCount);
        Assert.Equal(config.InitialCapacity, options.InitialCapacity);
        Assert.Equal(config.MaxValueLength, options.MaxValueLength);
        Assert.Null(options.ChunkSizes);
        Assert.Equal(config.MaxRetainedChunkBytes, options.MaxRetainedChunkBytes);
        Assert.Equal(config.CompactionDeadRatio, options.CompactionDeadRatio);
        Assert.Equal(config.CompactionMinDeadBytes, options.CompactionMinDeadBytes);
        Assert.Equal(config.BackgroundCompaction, options.BackgroundCompaction);
        Assert.Equal(config.ExpirationScanInterval, options.ExpirationScanInterval);
        Assert.Null(options.TimeProvider);

        Assert.Equal(config.Name, mapped.Name);
        Assert.Null(mapped.ChunkSizes);
        Assert.Null(mapped.TimeProvider);
        Assert.Null(mapped.MeterFactory);
        Assert.Null(mapped.Seed);
    }

    [Fact]
    public void Every_setting_is_carried_to_the_config_with_the_containers_clock_and_meter_factory()
    {
        var fromContainer = new FakeTimeProvider();
        using ServiceProvider sp = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var options = new CMapCacheOptions
        {
            Name = "n",
            MaxBytes = 1 << 30,
            ShardCount = 8,
            InitialCapacity = 5000,
            MaxValueLength = 1234,
            ChunkSizes = [4096, 65536],
            MaxRetainedChunkBytes = 99,
            CompactionDeadRatio = 0.4,
            CompactionMinDeadBytes = 77,
            BackgroundCompaction = false,
            ExpirationScanInterval = TimeSpan.FromSeconds(3),
        };

        CMapConfig c = options.ToConfig(fromContainer, meters);

        Assert.Equal("n", c.Name);
        Assert.Equal(1L << 30, c.MaxBytes);
        Assert.Equal(8, c.ShardCount);
        Assert.Equal(5000, c.InitialCapacity);
        Assert.Equal(1234, c.MaxValueLength);
        Assert.Equal([4096, 65536], c.ChunkSizes);
        Assert.Equal(99, c.MaxRetainedChunkBytes);
        Assert.Equal(0.4, c.CompactionDeadRatio);
        Assert.Equal(77, c.CompactionMinDeadBytes);
        Assert.False(c.BackgroundCompaction);
        Assert.Equal(TimeSpan.FromSeconds(3), c.ExpirationScanInterval);
        Assert.Same(fromContainer, c.TimeProvider);
        Assert.Same(meters, c.MeterFactory);

        // The list is copied: changing the options afterwards does not change a config already made.
        options.ChunkSizes[0] = 8192;
        Assert.Equal(4096, c.ChunkSizes![0]);
    }

    [Fact]
    public void A_clock_in_the_options_wins_over_the_containers()
    {
        var mine = new FakeTimeProvider();
        var options = new CMapCacheOptions { TimeProvider = mine };
        Assert.Same(mine, options.ToConfig(new FakeTimeProvider(), null).TimeProvider);
    }
}
