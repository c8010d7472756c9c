using System;
using System.Diagnostics;
using System.Threading;
using CMap.Tests.Stress;
using CMap.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Foundation;

/// <summary>
/// Failure 6: a compaction batch always moved at least one entry, so up to 128 MiB could be copied under the shard
/// lock. Now no batch copies more than <see cref="Shard.CompactionBatchBytes"/> under the lock; an entry larger than
/// that is copied outside it and its word swung only if it still points at the old copy [C3][C6].
/// </summary>
[Collection(StressCollection.Name)]
public sealed class LargeEntryCompactionTests(ITestOutputHelper output)
{
    private static ByteMap Create() => new(new CMapConfig
    {
        ShardCount = 1,
        Seed = 11,
        ChunkSizes = [1 << 20], // entries up to ~512 KiB stay in chunks, so compaction must move them
        BackgroundCompaction = false,
        CompactionMinDeadBytes = 0,
    });

    [Theory]
    [InlineData(40_000)]
    [InlineData(300_000)]
    public void NoBatchCopiesMoreThanItsBudgetUnderTheLock(int largeSize)
    {
        using var map = Create();
        var expected = new byte[64][];
        for (int i = 0; i < expected.Length; i++)
        {
            int size = i % 4 == 0 ? largeSize : 100 + (i * 37);
            expected[i] = StressValue.Create(i, 0, i, size);
            map.Insert(StressValue.Key(i), expected[i]);
        }

        // Kill every other entry, so every chunk is worth compacting and the large survivors must move.
        for (int i = 1; i < expected.Length; i += 2)
        {
            map.Delete(StressValue.Key(i));
            expected[i] = null!;
        }

        long movedBefore = map.GetStatistics().CompactionBytesMoved;
        Assert.True(map.Compact() > 0);
        long moved = map.GetStatistics().CompactionBytesMoved - movedBefore;
        output.WriteLine($"large {largeSize} B: moved {moved} B; max under lock {map.MaxBytesCopiedUnderLockForTests} B; {map.LargeMovesOutsideLockForTests} large moves outside the lock");

        Assert.True(map.LargeMovesOutsideLockForTests > 0, "no large entry was moved: the test did not exercise the path");
        Assert.True(map.MaxBytesCopiedUnderLockForTests <= Shard.CompactionBatchBytes, $"a batch copied {map.MaxBytesCopiedUnderLockForTests} bytes under the lock");
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], map.Get(StressValue.Key(i)));
        }

        // Nothing left to reclaim: a second pass copies nothing.
        movedBefore = map.GetStatistics().CompactionBytesMoved;
        map.Compact();
        Assert.Equal(movedBefore, map.GetStatistics().CompactionBytesMoved);
    }

    [Fact]
    public void AWriteThatRacesALargeCopyWins()
    {
        using var map = Create();
        const int keys = 4;
        const int size = 200_000;
        var latest = new long[keys];
        for (int k = 0; k < keys; k++)
        {
            map.Insert(StressValue.Key(k), StressValue.Create(k, 1, 0, size));
        }

        using var stop = new ManualResetEventSlim();
        Exception? failure = null;
        var writer = new Thread(() =>
        {
            try
            {
                var value = new byte[size];
                for (long seq = 1; !stop.IsSet; seq++)
                {
                    int k = (int)(seq % keys);
                    StressValue.Write(value, k, 1, seq);
                    map.Insert(StressValue.Key(k), value);
                    Volatile.Write(ref latest[k], seq);
                }
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        writer.Start();
        var sw = Stopwatch.StartNew();
        long passes = 0;
        try
        {
            // Compact until some large copy lost its race to the writer (the dangerous event), or time runs out.
            while (map.LargeMovesLostToWritersForTests == 0 && sw.Elapsed < TimeSpan.FromSeconds(20) && failure is null)
            {
                map.Compact();
                passes++;
                for (int k = 0; k < keys; k++)
                {
                    byte[] v = map.Get(StressValue.Key(k))!;
                    Assert.Null(StressValue.Verify(v, k));
                }
            }
        }
        finally
        {
            stop.Set();
            Assert.True(writer.Join(TimeSpan.FromSeconds(30)));
        }

        Assert.Null(failure);
        output.WriteLine($"{passes} passes; {map.LargeMovesOutsideLockForTests} large moves, {map.LargeMovesLostToWritersForTests} lost to the writer");
        Assert.True(map.LargeMovesLostToWritersForTests > 0, "no large copy raced a write: the race was never hit");
        Assert.True(map.MaxBytesCopiedUnderLockForTests <= Shard.CompactionBatchBytes);

        // The writer's last write of each key is what the map holds: no compaction copy overwrote it.
        for (int k = 0; k < keys; k++)
        {
            byte[] v = map.Get(StressValue.Key(k))!;
            Assert.Null(StressValue.Verify(v, k));
            Assert.Equal(Volatile.Read(ref latest[k]), StressValue.SequenceOf(v));
        }
    }
}
