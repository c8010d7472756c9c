using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using CMap;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Stress;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CompactionStressCollection
{
    public const string Name = "Compaction stress (not parallel)";
}

/// <summary>
/// Readers, writers and continuous compaction at once, with freed chunks poisoned and quarantined. Every value
/// describes itself (key id, writer, sequence, checksum), so a torn, foreign, stale or poisoned read is caught.
/// </summary>
[Collection(CompactionStressCollection.Name)]
public sealed class CompactionStressTests(ITestOutputHelper output)
{
    private const int Keys = 512;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void ReadersNeverSeeFreedMemoryWhileCompactionRuns()
    {
        const int seed = 20261122;
        output.WriteLine($"seed {seed}");
        Result r = Run(seed, skipGracePeriod: false, TimeSpan.FromSeconds(4), stopOnViolation: false);
        output.WriteLine(r.ToString());
        Assert.True(r.Violations == 0, $"use-after-free or corrupt reads: {r}");
        Assert.True(r.ChunksCompacted > 0, $"no compaction ran: {r}");
        Assert.True(r.FreesWhileReading > 0, $"no chunk was freed while readers were active, so the race was never exercised: {r}");
        Assert.True(r.Reads > 10_000, $"too few reads to mean anything: {r}");
    }

    [Fact]
    public void TheDetectorCatchesFreesThatSkipTheGracePeriod()
    {
        // Control run: chunks go back (poisoned) the moment they are retired. The same readers must notice.
        const int seed = 77;
        output.WriteLine($"seed {seed}");
        Result r = Run(seed, skipGracePeriod: true, TimeSpan.FromSeconds(30), stopOnViolation: true);
        output.WriteLine(r.ToString());
        Assert.True(r.Violations > 0, $"the detector saw nothing although chunks were freed under readers: {r}");
    }

    [Fact]
    public void CompactionRacingWritersLosesNoAcknowledgedWrite()
    {
        const int seed = 4242;
        const int writers = 2;
        output.WriteLine($"seed {seed}");
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 4,
            Seed = seed,
            ChunkSizes = [1024, 4096],
            CompactionMinDeadBytes = 0,
            MaxRetainedChunkBytes = 16384,
        });
        // Each writer owns keys w, w + writers, ...; expected[k] is the last acknowledged value (null: deleted).
        var expected = new byte[]?[Keys];
        using var start = new Barrier(writers + 1);
        using var stop = new CancellationTokenSource();
        var threads = new List<Thread>();
        long compactions = 0;
        for (int w = 0; w < writers; w++)
        {
            int writer = w;
            threads.Add(new Thread(() =>
            {
                var rnd = new Random(seed + writer);
                start.SignalAndWait(s_timeout);
                long seq = 0;
                for (int round = 0; round < 60_000; round++)
                {
                    int key = writer + (writers * rnd.Next(Keys / writers));
                    if (rnd.Next(8) == 0)
                    {
                        map.Delete(KeyOf(key));
                        expected[key] = null;
                    }
                    else
                    {
                        byte[] v = MakeValue(key, writer, ++seq, 24 + rnd.Next(200));
                        map.Insert(KeyOf(key), v);
                        expected[key] = v;
                    }
                }
            }));
        }

        var compactor = new Thread(() =>
        {
            start.SignalAndWait(s_timeout);
            while (!stop.IsCancellationRequested)
            {
                map.Compact();
                Interlocked.Increment(ref compactions);
            }
        });
        foreach (Thread t in threads)
        {
            t.Start();
        }

        compactor.Start();
        foreach (Thread t in threads)
        {
            Assert.True(t.Join(s_timeout), "writer did not finish in time");
        }

        stop.Cancel();
        Assert.True(compactor.Join(s_timeout), "compactor did not stop in time");
        CMapStatistics s = map.GetStatistics();
        output.WriteLine($"Compact() calls {compactions}, chunks compacted {s.ChunksCompacted}, bytes moved {s.CompactionBytesMoved}");
        Assert.True(s.ChunksCompacted > 0, "compaction never moved a chunk while writers ran");
        int present = 0;
        for (int k = 0; k < Keys; k++)
        {
            Assert.Equal(expected[k], map.Get(KeyOf(k)));
            present += expected[k] is null ? 0 : 1;
        }

        Assert.Equal(present, map.Count);
    }

    private static Result Run(int seed, bool skipGracePeriod, TimeSpan duration, bool stopOnViolation)
    {
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 2,
            Seed = (ulong)seed,
            ChunkSizes = [1024, 2048],
            CompactionMinDeadBytes = 0,
            PoisonFreedChunks = true,
        });
        map.RetiredForTests.UnsafeSkipGracePeriod = skipGracePeriod;
        for (int k = 0; k < Keys; k++)
        {
            map.Insert(KeyOf(k), MakeValue(k, 0, 0, 64));
        }

        long reads = 0, violations = 0;
        string? firstViolation = null;
        using var start = new Barrier(4);
        using var stop = new CancellationTokenSource();
        void Violation(string what)
        {
            if (Interlocked.Increment(ref violations) == 1)
            {
                firstViolation = what;
            }

            if (stopOnViolation)
            {
                stop.Cancel();
            }
        }

        var readers = new Thread[2];
        for (int i = 0; i < readers.Length; i++)
        {
            int id = i;
            readers[i] = new Thread(() =>
            {
                var rnd = new Random(seed * 31 + id);
                start.SignalAndWait(s_timeout);
                while (!stop.IsCancellationRequested)
                {
                    int key = rnd.Next(Keys);
                    // Validate inside the callback: the span is read for as long as the check takes, which is
                    // exactly the window in which a too-early free would show up as poison.
                    string? problem = null;
                    bool found = map.TryRead(KeyOf(key), key, (span, k) => problem = Check(span, k));
                    Interlocked.Increment(ref reads);
                    if (!found)
                    {
                        Violation($"key {key} missing (its entry's key bytes were overwritten?)");
                    }
                    else if (problem is not null)
                    {
                        Violation(problem);
                    }
                }
            });
        }

        var writer = new Thread(() =>
        {
            var rnd = new Random(seed);
            start.SignalAndWait(s_timeout);
            long seq = 0;
            while (!stop.IsCancellationRequested)
            {
                int key = rnd.Next(Keys);
                map.Insert(KeyOf(key), MakeValue(key, 1, ++seq, 24 + rnd.Next(120)));
            }
        });
        var compactor = new Thread(() =>
        {
            start.SignalAndWait(s_timeout);
            while (!stop.IsCancellationRequested)
            {
                map.Compact();
            }
        });

        foreach (Thread t in readers)
        {
            t.Start();
        }

        writer.Start();
        compactor.Start();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration && !stop.IsCancellationRequested)
        {
            stop.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(50));
        }

        stop.Cancel();
        foreach (Thread t in readers)
        {
            Assert.True(t.Join(s_timeout), "reader did not stop in time");
        }

        Assert.True(writer.Join(s_timeout), "writer did not stop in time");
        Assert.True(compactor.Join(s_timeout), "compactor did not stop in time");
        CMapStatistics s = map.GetStatistics();
        return new Result(Interlocked.Read(ref reads), Interlocked.Read(ref violations), firstViolation, s.ChunksCompacted,
            map.RetiredForTests.ReleasedWhileReadersActive, s.CompactionPasses);
    }

    internal static byte[] KeyOf(int key) => BitConverter.GetBytes(key * 0x9E3779B1);

    /// <summary>[key id:4][writer:4][sequence:8][pattern…][FNV-1a of all before it:8]</summary>
    internal static byte[] MakeValue(int key, int writer, long seq, int length)
    {
        var v = new byte[length];
        BinaryPrimitives.WriteInt32LittleEndian(v, key);
        BinaryPrimitives.WriteInt32LittleEndian(v.AsSpan(4), writer);
        BinaryPrimitives.WriteInt64LittleEndian(v.AsSpan(8), seq);
        for (int i = 16; i < length - 8; i++)
        {
            v[i] = (byte)((key * 31) + (seq * 7) + i);
        }

        BinaryPrimitives.WriteUInt64LittleEndian(v.AsSpan(length - 8), Fnv(v.AsSpan(0, length - 8)));
        return v;
    }

    internal static string? Check(ReadOnlySpan<byte> v, int key)
    {
        if (v.Length < 24)
        {
            return $"key {key}: value of {v.Length} bytes is too short to be one of ours";
        }

        ulong sum = Fnv(v[..^8]);
        if (sum != BinaryPrimitives.ReadUInt64LittleEndian(v[^8..]))
        {
            int poison = v.IndexOf(stackalloc byte[] { 0xDB, 0xDB, 0xDB, 0xDB });
            return $"key {key}: checksum mismatch{(poison >= 0 ? $" with poison at byte {poison}" : string.Empty)}";
        }

        int owner = BinaryPrimitives.ReadInt32LittleEndian(v);
        return owner == key ? null : $"key {key}: read a value written for key {owner}";
    }

    private static ulong Fnv(ReadOnlySpan<byte> data)
    {
        ulong h = 14695981039346656037;
        foreach (byte b in data)
        {
            h = (h ^ b) * 1099511628211;
        }

        return h;
    }

    private sealed record Result(long Reads, long Violations, string? FirstViolation, long ChunksCompacted, long FreesWhileReading, long Passes);
}
