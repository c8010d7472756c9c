using System;
using System.Collections.Generic;
using System.Threading;
using CMap;
using CMap.Buffer;
using CMap.Compaction;
using CMap.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static CMap.Tests.Support.MapConfigurations;

namespace CMap.Tests.Compaction;

/// <summary>Compaction run inline through <see cref="ManualCompactionScheduler"/>, so every step is deterministic.</summary>
public sealed class CompactionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private static (ByteMap Map, ManualCompactionScheduler Scheduler) Create(int shards = 4, int[]? chunks = null, long minDead = 0, ChunkPolicy? policy = null)
    {
        var scheduler = new ManualCompactionScheduler();
        var map = new ByteMap(new CMapConfig
        {
            ShardCount = shards,
            Seed = 17,
            ChunkSizes = chunks ?? [1024, 4096, 16384],
            CompactionMinDeadBytes = minDead,
            MaxRetainedChunkBytes = 0,
            ChunkPolicy = policy ?? ChunkPolicy.Default,
            CompactionSchedulerFactory = () => scheduler,
        });
        return (map, scheduler);
    }

    [Fact]
    public void OverwritesAskForCompactionAndThePassKeepsEveryValue()
    {
        (ByteMap map, ManualCompactionScheduler scheduler) = Create();
        using (map)
        {
            for (int i = 0; i < 2000; i++)
            {
                map.Insert(Key(i), Bytes(40, i));
            }

            // Overwrite every other key: a third of the log dies, spread over all sealed chunks.
            for (int i = 0; i < 2000; i += 2)
            {
                map.Insert(Key(i), Bytes(41, -i));
            }

            Assert.True(scheduler.TotalRequests > 0, "dead bytes crossed the ratio; a pass should have been requested");
            long deadBefore = map.GetStatistics().DeadBytes;
            Assert.True(scheduler.RunPending());
            CMapStatistics after = map.GetStatistics();
            output.WriteLine($"dead {deadBefore} -> {after.DeadBytes}, compacted {after.ChunksCompacted}, moved {after.CompactionBytesMoved}");
            Assert.True(after.ChunksCompacted > 0);
            Assert.True(after.CompactionBytesMoved > 0);
            Assert.True(after.DeadBytes < deadBefore);
            for (int i = 0; i < 2000; i++)
            {
                Assert.Equal(i % 2 == 0 ? Bytes(41, -i) : Bytes(40, i), map.Get(Key(i)));
            }
        }
    }

    [Fact]
    public void DeadBytesCountTheOldEntryOnOverwrite()
    {
        (ByteMap map, _) = Create(shards: 1, minDead: long.MaxValue);
        using (map)
        {
            map.Insert("key-0123456789ab"u8, new byte[100]);
            long dead0 = map.GetStatistics().DeadBytes;
            map.Insert("key-0123456789ab"u8, new byte[10]);
            CMapStatistics s = map.GetStatistics();
            // walmap counted the new value's size; the bytes that died are the old entry's: 4 + 16 + 100.
            Assert.Equal(120, s.DeadBytes - dead0);
            Assert.Equal(s.DeadBytes, map.ReclaimableBytes);
            Assert.Equal(4 + 16 + 10, s.LiveBytes);
            map.Delete("key-0123456789ab"u8);
            Assert.Equal(120 + 30, map.GetStatistics().DeadBytes - dead0);
            Assert.Equal(0, map.GetStatistics().LiveBytes);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void CompactMovesEverythingAndGivesMemoryBack(int shards)
    {
        (ByteMap map, _) = Create(shards: shards, minDead: long.MaxValue);
        using (map)
        {
            const int n = 20_000;
            for (int i = 0; i < n; i++)
            {
                map.Insert(Key(i), Bytes(20, i));
            }

            for (int i = 0; i < n; i++)
            {
                if (i % 10 != 0)
                {
                    map.Delete(Key(i));
                }
            }

            map.RetiredForTests.TryDrain();
            CMapStatistics before = map.GetStatistics();
            int chunks = map.Compact();
            CMapStatistics after = map.GetStatistics();
            output.WriteLine($"compacted {chunks} chunks; chunk bytes {before.ChunkBytes} -> {after.ChunkBytes}; native {before.NativeBytes} -> {after.NativeBytes}; live {after.LiveBytes}");
            Assert.True(chunks > 0);
            Assert.True(after.ChunkBytes < before.ChunkBytes / 2, "90% deleted: chunk bytes should at least halve");
            Assert.True(after.NativeBytes < before.NativeBytes);
            Assert.Equal(0, after.PendingRetiredBytes);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(i % 10 == 0 ? Bytes(20, i) : null, map.Get(Key(i)));
            }

            Assert.Equal(n / 10, map.Count);
        }
    }

    [Fact]
    public void AFailedCompactionIsRecordedAndLosesNothing()
    {
        (ByteMap map, ManualCompactionScheduler scheduler) = Create(shards: 1);
        using (map)
        {
            for (int i = 0; i < 3000; i++)
            {
                map.Insert(Key(i), Bytes(30, i));
            }

            for (int i = 0; i < 3000; i += 2)
            {
                map.Delete(Key(i));
            }

            Assert.True(scheduler.TotalRequests > 0);
            // The compactor's first copy needs a fresh tail chunk sooner or later: make that allocation fail.
            map.ArenaForTests.FailAfter = 1;
            scheduler.RunPending();
            map.ArenaForTests.FailAfter = 0;
            CMapStatistics s = map.GetStatistics();
            Assert.Equal(1, s.CompactionErrors);
            Assert.IsAssignableFrom<OutOfMemoryException>(s.LastCompactionError);
            for (int i = 0; i < 3000; i++)
            {
                Assert.Equal(i % 2 == 0 ? null : Bytes(30, i), map.Get(Key(i)));
            }

            // Still usable, and a later compaction succeeds.
            map.Compact();
            Assert.Equal(1, map.GetStatistics().CompactionErrors);
            map.Insert("after"u8, "ok"u8);
            Assert.Equal("ok"u8.ToArray(), map.Get("after"u8));
        }
    }

    [Fact]
    public void ShardsMoveUpAndBackDownTheSizeClasses()
    {
        (ByteMap map, _) = Create(shards: 1, chunks: [1024, 8192, 65536], minDead: long.MaxValue);
        using (map)
        {
            ref Shard shard = ref map.ShardForTests(0);
            const int n = 16_000; // 16,000 x 42 B = 672 KB live: past 8 x 64 KiB, so the shard reaches class 2
            for (int i = 0; i < n; i++)
            {
                map.Insert(Key(i), Bytes(30, i));
            }

            output.WriteLine($"after load: class {shard.SizeClassForTests}, {map.GetStatistics()}");
            Assert.Equal(2, shard.SizeClassForTests);
            for (int i = 0; i < n; i++)
            {
                if (i % 100 != 0)
                {
                    map.Delete(Key(i));
                }
            }

            map.Compact();
            // 160 live entries (6.7 KB, under 2 x 8 KiB): the chunks the moved entries went to are small again.
            Assert.Equal(0, shard.SizeClassForTests);
            Assert.True(map.GetStatistics().ChunkBytes <= 16 * 1024, $"chunk bytes {map.GetStatistics().ChunkBytes}");
            for (int i = 0; i < n; i += 100)
            {
                Assert.Equal(Bytes(30, i), map.Get(Key(i)));
            }
        }
    }

    [Fact]
    public void ACustomChunkPolicyIsObeyedAndABadAnswerFailsTheWriteCleanly()
    {
        var policy = new FixedPolicy { Class = 1 };
        (ByteMap map, _) = Create(shards: 1, policy: policy);
        using (map)
        {
            map.Insert("a"u8, "1"u8);
            Assert.Equal(1, map.ShardForTests(0).SizeClassForTests);
            Assert.Equal(4096, map.GetStatistics().ChunkBytes);

            // Fill the 4 KiB chunk so the next insert needs a new one, then make the policy misbehave.
            int i = 0;
            while (map.GetStatistics().ChunkBytes == 4096)
            {
                map.Insert(Key(i++), new byte[100]);
            }

            policy.Class = 7;
            long count = map.Count;
            var ex = Assert.Throws<InvalidOperationException>(() =>
            {
                for (int j = 0; j < 100; j++)
                {
                    map.Insert(Key(100_000 + j), new byte[100]);
                }
            });
            Assert.Contains("ChunkPolicy.SelectSizeClass returned 7", ex.Message, StringComparison.Ordinal);
            Assert.True(map.Count >= count);
            policy.Class = 0;
            map.Insert("b"u8, "2"u8);
            Assert.Equal("2"u8.ToArray(), map.Get("b"u8));
        }
    }

    [Fact]
    public void AnIndexLeftSparseByDeletesShrinks()
    {
        (ByteMap map, _) = Create(shards: 1, minDead: long.MaxValue);
        using (map)
        {
            for (int i = 0; i < 10_000; i++)
            {
                map.Insert(Key(i), "v"u8);
            }

            long big = map.GetStatistics().IndexBytes;
            for (int i = 10; i < 10_000; i++)
            {
                map.Delete(Key(i));
            }

            long small = map.GetStatistics().IndexBytes;
            output.WriteLine($"index bytes {big} -> {small}");
            Assert.True(small * 16 < big, $"index should shrink: {big} -> {small}");
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal("v"u8.ToArray(), map.Get(Key(i)));
            }
        }
    }

    [Fact]
    public void TheBackgroundCompactorRunsWithoutBeingAskedTwice()
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 2, Seed = 5, ChunkSizes = [1024, 4096], CompactionMinDeadBytes = 0, MaxRetainedChunkBytes = 0 });
        for (int i = 0; i < 3000; i++)
        {
            map.Insert(Key(i), Bytes(30, i));
        }

        for (int i = 0; i < 3000; i += 2)
        {
            map.Delete(Key(i));
        }

        // No further writes: an idle shard must still finish its compaction (go-cmap's never did).
        Assert.True(SpinWait.SpinUntil(() => map.GetStatistics().ChunksCompacted > 0, s_timeout), "the background compactor never ran");
        for (int i = 1; i < 3000; i += 2)
        {
            Assert.Equal(Bytes(30, i), map.Get(Key(i)));
        }
    }

    [Fact]
    public void DisposeStopsTheCompactorAndFreesEverything()
    {
        for (int round = 0; round < 20; round++)
        {
            var map = new ByteMap(new CMapConfig { ShardCount = 2, Seed = 5, ChunkSizes = [1024], CompactionMinDeadBytes = 0 });
            for (int i = 0; i < 1000; i++)
            {
                map.Insert(Key(i % 100), Bytes(30, i));
            }

            NativeArena arena = map.ArenaForTests;
            map.Dispose();
            Assert.Equal(0, arena.OutstandingBytes);
        }
    }

    private sealed class FixedPolicy : ChunkPolicy
    {
        public int Class { get; set; }

        public override int SelectSizeClass(long liveBytes, int currentClass, IReadOnlyList<int> chunkSizes) => Class;
    }

    /// <summary>
    /// [C3] A chunk chosen for compaction is found again from the shard's list alone, even when a retirement moved it
    /// after it was chosen. One shard of 4 KiB chunks, three 1,000-byte values per chunk: A (keys 0-2), B (3-5), C (6-8)
    /// and the tail (9). Deleting A retires it, which moves the tail into A's place, so C is last. Compact() then
    /// chooses B and C, walks B first (more dead bytes) and retires it, which moves C from position 2 to 1: C must
    /// still be compacted.
    /// </summary>
    [Fact]
    public void AChosenChunkThatARetirementMovedIsStillCompacted()
    {
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 18, ChunkSizes = [4096], BackgroundCompaction = false, MaxRetainedChunkBytes = 0 });
        byte[] value = new byte[1000];
        for (int i = 0; i < 10; i++)
        {
            map.Insert(BitConverter.GetBytes(i), value);
        }

        Assert.Equal(4 * 4096, map.GetStatistics().ChunkBytes); // A, B, C and the tail

        for (int i = 0; i < 3; i++)
        {
            Assert.True(map.Delete(BitConverter.GetBytes(i)));
        }

        Assert.Equal(3 * 4096, map.GetStatistics().ChunkBytes); // A retired; the tail took its place in the list
        Assert.True(map.Delete(BitConverter.GetBytes(3)));
        Assert.True(map.Delete(BitConverter.GetBytes(4)));
        Assert.True(map.Delete(BitConverter.GetBytes(6)));

        int compacted = map.Compact();
        CMapStatistics stats = map.GetStatistics();
        output.WriteLine($"compacted {compacted} chunks; dead bytes after: {stats.DeadBytes}, chunk bytes {stats.ChunkBytes}");
        Assert.Equal(2, compacted);
        Assert.Equal(0, stats.DeadBytes);
        foreach (int k in new[] { 5, 7, 8, 9 })
        {
            Assert.True(map.Get(BitConverter.GetBytes(k)) is { Length: 1000 }, $"key {k} lost");
        }

        Assert.Equal(4, map.Count);
    }
}
