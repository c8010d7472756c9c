using System;
using CMap;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Compaction;

/// <summary>
/// The scenarios go-cmap failed: churn must give native memory back. Limits are stated in each test, and the
/// figures are printed so they can be quoted.
/// </summary>
[Collection(Stress.CompactionStressCollection.Name)]
public sealed class ChurnMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void AMillionInsertDeletePairsOnOneKeyLeaveAlmostNothing()
    {
        // go-cmap: 1,000,000 pairs left an empty map holding 581 chunks (36.3 MiB).
        using var map = new ByteMap(new CMapConfig { Seed = 1 });
        long empty = map.GetStatistics().NativeBytes;
        byte[] key = "the-one-key-0001"u8.ToArray();
        byte[] value = new byte[100];
        for (int i = 0; i < 1_000_000; i++)
        {
            value[0] = (byte)i;
            map.Insert(key, value);
            map.Delete(key);
        }

        CMapStatistics churned = map.GetStatistics();
        map.Compact();
        CMapStatistics after = map.GetStatistics();
        output.WriteLine($"native bytes: empty map {empty:N0}; after 1M pairs {churned.NativeBytes:N0}; after Compact {after.NativeBytes:N0}; chunks allocated {after.ChunksAllocated}, returned to OS {after.ChunksReturnedToOs}");
        Assert.Equal(0, map.Count);
        Assert.Equal(0, after.LiveBytes);
        // Stated limits: without compaction, the empty map's index tables plus a tail chunk and the 64 KiB chunks
        // waiting out their grace period (the retire list drains every 1 MiB) or pooled for reuse: 1.5 MiB in all;
        // after Compact, the empty map's size.
        Assert.True(churned.NativeBytes <= empty + (1536 << 10), $"after churn {churned.NativeBytes:N0} > empty {empty:N0} + 1.5 MiB");
        Assert.Equal(empty, after.NativeBytes);
    }

    [Fact]
    public void TenMillionWrittenThenNinetyPercentDeletedComesBackNearTheLiveSize()
    {
        const int n = 10_000_000;
        using var map = new ByteMap(new CMapConfig { Seed = 2, MaxRetainedChunkBytes = 4 << 20 });
        Span<byte> key = stackalloc byte[8];
        Span<byte> value = stackalloc byte[8];
        for (int i = 0; i < n; i++)
        {
            BitConverter.TryWriteBytes(key, i);
            BitConverter.TryWriteBytes(value, ~i);
            map.Insert(key, value);
        }

        CMapStatistics full = map.GetStatistics();
        for (int i = 0; i < n; i++)
        {
            if (i % 10 != 0)
            {
                BitConverter.TryWriteBytes(key, i);
                map.Delete(key);
            }
        }

        CMapStatistics deleted = map.GetStatistics();
        map.Compact();
        CMapStatistics after = map.GetStatistics();
        output.WriteLine($"full: native {full.NativeBytes:N0}, live {full.LiveBytes:N0}");
        output.WriteLine($"90% deleted: native {deleted.NativeBytes:N0}, live {deleted.LiveBytes:N0}, dead {deleted.DeadBytes:N0}");
        output.WriteLine($"after Compact: native {after.NativeBytes:N0} ({(double)after.NativeBytes / after.LiveBytes:F2}x live), chunks {after.ChunkBytes:N0}, index {after.IndexBytes:N0}, moved {after.CompactionBytesMoved:N0}");
        Assert.Equal(n / 10, map.Count);
        Assert.Equal(n / 10 * 20L, after.LiveBytes);
        Assert.Equal(0, after.PendingRetiredBytes);
        // Stated limit: live bytes + index (at most 32 B per entry: a rebuilt table is 25-50% full) + one tail chunk per
        // shard of the class its live bytes call for (at most twice those bytes). Compact empties the pools.
        long limit = after.LiveBytes + (32L * map.Count) + (2 * after.LiveBytes) + (map.ShardCount * (64L << 10));
        Assert.True(after.NativeBytes <= limit, $"native {after.NativeBytes:N0} > limit {limit:N0}");
        Assert.True(after.NativeBytes < full.NativeBytes / 4, $"native {after.NativeBytes:N0} should be well under a quarter of {full.NativeBytes:N0}");
        for (int i = 0; i < n; i += 9973)
        {
            BitConverter.TryWriteBytes(key, i);
            Assert.Equal(i % 10 == 0, map.ContainsKey(key));
        }
    }
}
