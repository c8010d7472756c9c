using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using CMap;
using CMap.Tests.Stress;
using CMap.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static CMap.Tests.Support.CacheTestKit;

namespace CMap.Tests.Cache;

/// <summary>
/// The byte budget under write-heavy churn with values from 100 B to 1 MiB (CMapConfig.MaxBytes: "with no reader
/// parked in a read callback the native bytes stay at or under 1.05 × the budget"; "writes never fail for lack of
/// room"). Native bytes are sampled at least every 1,000 writes (here every 250) and after every write of 32 KiB or
/// more. Run with the background compactor and, separately, with the writers' inline eviction alone.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class BudgetChurnTests(ITestOutputHelper output)
{
    public static TheoryData<string, int, bool> Cases
    {
        get
        {
            var data = new TheoryData<string, int, bool>();
            foreach (bool background in new[] { true, false })
            {
                data.Add("automatic-shards", 8, background);
                data.Add("automatic-shards", 32, background);
                data.Add("four-shards-small-chunks", 8, background);
            }

            return data;
        }
    }

    private static CMapConfig Config(string shape, long maxBytes, bool background, ulong seed) => shape switch
    {
        "automatic-shards" => new CMapConfig { Seed = seed, MaxBytes = maxBytes, BackgroundCompaction = background },
        "four-shards-small-chunks" => new CMapConfig { ShardCount = 4, Seed = seed, MaxBytes = maxBytes, BackgroundCompaction = background, ChunkSizes = [4096, 16384, 65536] },
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void NativeBytesStayWithinTheBudgetThroughChurnWithValuesUpToOneMebibyte(string shape, int maxMiB, bool background)
    {
        int seed = 5700 + maxMiB + (background ? 1 : 0) + shape.Length;
        long maxBytes = (long)maxMiB << 20;
        long bound = maxBytes + (maxBytes / 20);
        output.WriteLine($"seed {seed}, {shape}, MaxBytes {maxBytes:N0}, background compaction {background}; bound {bound:N0}");
        var rng = new Random(seed);
        var map = new ByteMap(Config(shape, maxBytes, background, (ulong)seed));
        var buffer = new byte[1 << 20];
        var recent = new List<long>();
        long nextKey = 0, writes = 0, written = 0, reads = 0, readHits = 0, largeWrites = 0, mebibyteWrites = 0;
        long samples = 0, over = 0, worst = 0;
        string? firstOver = null;
        var clock = Stopwatch.StartNew();
        while ((written < 12 * maxBytes || writes < 20_000) && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (rng.Next(10) == 0 && recent.Count > 0)
            {
                long id = recent[rng.Next(recent.Count)];
                byte[]? got = map.Get(Key(id));
                reads++;
                if (got is not null)
                {
                    readHits++;
                    Assert.True(Intact(got, id), $"seed {seed}: key {id} read back other bytes ({got.Length} B)");
                }

                continue;
            }

            int length = NextLength(rng);
            long keyId = rng.Next(10) < 3 && recent.Count > 0 ? recent[rng.Next(recent.Count)] : nextKey++;
            Span<byte> value = buffer.AsSpan(0, length);
            Fill(value, keyId);
            map.Insert(Key(keyId), value); // never throws for lack of room
            writes++;
            written += length;
            if (recent.Count < 1000)
            {
                recent.Add(keyId);
            }
            else
            {
                recent[rng.Next(1000)] = keyId;
            }

            if (!background)
            {
                // Inline eviction runs before a write, never after it: the value just written is there.
                Assert.True(map.ContainsKey(Key(keyId)), $"seed {seed}: write {writes} ({length} B) is not readable right after it returned");
            }

            bool large = length >= 32 << 10;
            largeWrites += large ? 1 : 0;
            mebibyteWrites += length == 1 << 20 ? 1 : 0;
            if (large || writes % 250 == 0)
            {
                long native = map.ArenaForTests.OutstandingBytes;
                samples++;
                worst = Math.Max(worst, native);
                if (native > bound)
                {
                    over++;
                    if (firstOver is null)
                    {
                        CMapStatistics s = map.GetStatistics();
                        firstOver = $"write {writes} ({length:N0} B): native {native:N0} = {(double)native / maxBytes:F3} x budget; chunks {s.ChunkBytes:N0}, blocks {s.OversizeBytes:N0}, index {s.IndexBytes:N0}, pending retired {s.PendingRetiredBytes:N0}; {Counters(s)}";
                    }
                }
            }
        }

        CMapStatistics end = map.GetStatistics();
        output.WriteLine($"{writes:N0} writes ({written:N0} B, {largeWrites:N0} of 32 KiB or more, {mebibyteWrites} of 1 MiB), {reads:N0} reads ({readHits:N0} hits) in {clock.ElapsedMilliseconds} ms");
        output.WriteLine($"{samples:N0} samples; worst native {worst:N0} = {(double)worst / maxBytes:F3} x budget; {over:N0} over 1.05 x");
        output.WriteLine($"end: {Counters(end)}; shards {map.ShardCount}");
        if (firstOver is not null)
        {
            output.WriteLine($"first over: {firstOver}");
        }

        Assert.True(written >= 8 * maxBytes, $"only {written:N0} bytes written in the time allowed: the budget was not churned");
        Assert.True(end.Evictions > 0 && largeWrites > 0 && mebibyteWrites > 0, $"the run did not exercise eviction with large values: {Counters(end)}, {largeWrites} large writes, {mebibyteWrites} of 1 MiB");
        Assert.True(over == 0, $"{over} of {samples} samples over 1.05 x MaxBytes = {bound:N0}; worst {worst:N0} ({(double)worst / maxBytes:F3} x). First: {firstOver}");
        DisposeAndAssertNoNativeBytes(map, shape);
    }

    /// <summary>60% 100 B–1 KiB, 30% 1–64 KiB, 10% 64 KiB–1 MiB (log-uniform), a fifth of those exactly 1 MiB.</summary>
    private static int NextLength(Random rng)
    {
        int r = rng.Next(100);
        if (r < 60)
        {
            return rng.Next(100, 1024);
        }

        if (r < 90)
        {
            return (int)Math.Exp(rng.NextDouble() * Math.Log(64.0) + Math.Log(1024.0));
        }

        return rng.Next(5) == 0 ? 1 << 20 : (int)Math.Exp(rng.NextDouble() * Math.Log(16.0) + Math.Log(64.0 * 1024));
    }

    private static byte[] Key(long id)
    {
        var k = new byte[12];
        BinaryPrimitives.WriteInt64LittleEndian(k, id);
        BinaryPrimitives.WriteInt32LittleEndian(k.AsSpan(8), unchecked((int)(id * 0x9E3779B1)));
        return k;
    }

    /// <summary>The key id, then a pattern of it and the position (a value of any length tells whose it is).</summary>
    private static void Fill(Span<byte> value, long keyId)
    {
        for (int i = 0; i < value.Length; i++)
        {
            value[i] = (byte)((keyId * 31) + (i * 7) + (i >> 8));
        }
    }

    private static bool Intact(byte[] value, long keyId)
    {
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] != (byte)((keyId * 31) + (i * 7) + (i >> 8)))
            {
                return false;
            }
        }

        return true;
    }
}
