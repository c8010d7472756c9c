using System;
using System.Threading;
using CMap;
using CMap.Buffer;
using CMap.Tests.Stress;
using CMap.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Cache;

/// <summary>
/// Writers, readers, a clock thread advancing the fake clock, the expiry timer, the background compactor and eviction,
/// all at once, on tiny chunks (1, 2 and 4 KiB) under a small budget, with freed chunks poisoned. Every value carries
/// its absolute deadline (a timestamp; the map's own deadline is never later, sliding can only make it earlier) and a
/// checksum (<see cref="StressValue"/>, the sequence field holding the deadline). A reader reads the clock before each
/// read: a value returned must be intact, of its key, and have a deadline after that time. The run counts its dangerous
/// events (evictions, expirations, hits within 2 ms of the deadline, frees while readers were active, compacted chunks)
/// and fails if any is zero.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class CacheStressTests(ITestOutputHelper output)
{
    private const int KeyCount = 3000;
    private static readonly long s_nearTicks = TimeSpan.FromMilliseconds(2).Ticks;

    [Theory]
    [InlineData("small", 20261201)]
    [InlineData("mixed", 20261202)]
    public void NoReadReturnsAnExpiredOrTornValueWhileTheClockExpiryAndEvictionRace(string values, int seed)
    {
        output.WriteLine($"seed {seed}, values {values}");
        var time = new FakeTimeProvider();
        long maxBytes = values == "small" ? 512L << 10 : 2L << 20;
        var map = new ByteMap(new CMapConfig
        {
            ShardCount = 4,
            Seed = (ulong)seed,
            ChunkSizes = [1024, 2048, 4096],
            MaxBytes = maxBytes,
            TimeProvider = time,
            ExpirationScanInterval = TimeSpan.FromMilliseconds(10),
            PoisonFreedChunks = true,
            CompactionMinDeadBytes = 4096,
        });
        NativeArena arena = map.ArenaForTests;
        var harness = new StressHarness();
        var counts = new Counts();
        byte[][] keys = StressValue.Keys(KeyCount);

        harness.Add("clock", () =>
        {
            // The fake clock follows real time in steps of at least 1 ms (a descheduled clock thread makes a longer jump),
            // so entries live 1 to 60 ms of fake time whatever the machine's load.
            var real = System.Diagnostics.Stopwatch.StartNew();
            TimeSpan moved = TimeSpan.Zero;
            while (!harness.Stopping)
            {
                TimeSpan due = real.Elapsed - moved;
                if (due >= TimeSpan.FromMilliseconds(1))
                {
                    time.Advance(due);
                    moved += due;
                    Interlocked.Increment(ref counts.ClockSteps);
                }
                else
                {
                    Thread.SpinWait(200);
                }
            }

            Volatile.Write(ref counts.FakeTicks, moved.Ticks);
        });

        for (int w = 0; w < 2; w++)
        {
            int writer = w;
            harness.Add($"writer {w}", () => WriterLoop(map, time, keys, writer, seed + writer, values, harness, counts));
        }

        for (int r = 0; r < 2; r++)
        {
            int reader = r;
            harness.Add($"reader {r}", () => ReaderLoop(map, time, keys, seed + 100 + reader, harness, counts));
        }

        harness.Start();
        harness.RunFor(TimeSpan.FromSeconds(3));
        harness.StopAndJoin();

        CMapStatistics s = map.GetStatistics();
        long freesWhileReading = map.RetiredForTests.ReleasedWhileReadersActive;
        string summary = $"clock steps {counts.ClockSteps:N0} ({TimeSpan.FromTicks(counts.FakeTicks)} fake), writes {counts.Writes:N0}, reads {counts.Reads:N0}, hits {counts.Hits:N0} ({counts.NearDeadlineHits:N0} within 2 ms of the deadline), GetOrInsert hits {counts.GetOrInsertHits:N0}; " +
            $"map: {CacheTestKit.Counters(s)}, chunks compacted {s.ChunksCompacted:N0}, compaction passes {s.CompactionPasses:N0}, errors {s.CompactionErrors}, frees while readers active {freesWhileReading:N0}";
        output.WriteLine(summary);
        harness.AssertNoFailures(summary);
        Assert.True(s.CompactionErrors == 0, $"background pass failures: {s.LastCompactionError}");
        Assert.True(s.Evictions > 0, $"no eviction: {summary}");
        Assert.True(s.Expirations > 0, $"no expiration: {summary}");
        Assert.True(counts.Hits > 1000, $"too few hits: {summary}");
        Assert.True(counts.NearDeadlineHits > 0, $"no read hit an entry within 2 ms of its deadline: {summary}");
        Assert.True(freesWhileReading > 0, $"no memory was freed while readers were active: {summary}");
        Assert.True(s.ChunksCompacted > 0, $"no chunk was compacted or evicted by the compactor: {summary}");
        Assert.True(counts.ClockSteps > 100, $"the clock hardly moved: {summary}");
        map.Dispose();
        Assert.True(arena.OutstandingBytes == 0, $"{arena.OutstandingBytes:N0} native bytes outstanding after Dispose");
    }

    private sealed class Counts
    {
        public long ClockSteps;
        public long FakeTicks;
        public long Writes;
        public long Reads;
        public long Hits;
        public long NearDeadlineHits;
        public long GetOrInsertHits;
    }

    private static int Length(Random rng, string values) =>
        values == "mixed" && rng.Next(10) == 0 ? rng.Next(2000, 40_000) : rng.Next(StressValue.HeaderSize, 600);

    private static void WriterLoop(ByteMap map, FakeTimeProvider time, byte[][] keys, int writer, int seed, string values, StressHarness harness, Counts counts)
    {
        var rng = new Random(seed);
        while (!harness.Stopping)
        {
            int id = rng.Next(KeyCount);
            int op = rng.Next(10);
            if (op == 0)
            {
                map.Delete(keys[id]);
                continue;
            }

            DateTimeOffset now = time.GetUtcNow();
            DateTimeOffset deadline = now + TimeSpan.FromTicks(rng.NextInt64(TimeSpan.TicksPerMillisecond, 60 * TimeSpan.TicksPerMillisecond));
            var options = new CMapEntryOptions
            {
                AbsoluteExpiration = deadline,
                SlidingExpiration = rng.Next(3) == 0 ? TimeSpan.FromMilliseconds(rng.Next(5, 30)) : null,
            };
            byte[] value = StressValue.Create(id, writer, deadline.UtcTicks, Length(rng, values));
            switch (op)
            {
                case 1:
                    map.TryAdd(keys[id], value, options);
                    break;
                case 2:
                    long before = time.GetTimestamp();
                    byte[] current = map.GetOrInsert(keys[id], value, options, out bool inserted);
                    if (!inserted)
                    {
                        Interlocked.Increment(ref counts.GetOrInsertHits);
                        Check(current, id, before, "GetOrInsert", harness, counts);
                    }

                    break;
                default:
                    map.Insert(keys[id], value, options);
                    break;
            }

            Interlocked.Increment(ref counts.Writes);
        }
    }

    private static void ReaderLoop(ByteMap map, FakeTimeProvider time, byte[][] keys, int seed, StressHarness harness, Counts counts)
    {
        var rng = new Random(seed);
        var buffer = new byte[64 << 10];
        while (!harness.Stopping)
        {
            int id = rng.Next(KeyCount);
            long before = time.GetTimestamp();
            Interlocked.Increment(ref counts.Reads);
            switch (rng.Next(5))
            {
                case 0:
                    byte[]? got = map.Get(keys[id]);
                    if (got is not null)
                    {
                        Check(got, id, before, "Get", harness, counts);
                    }

                    break;
                case 1:
                    if (map.TryGet(keys[id], buffer, out int written))
                    {
                        Check(buffer.AsSpan(0, written), id, before, "TryGet", harness, counts);
                    }

                    break;
                case 2:
                    map.TryRead(keys[id], (Id: id, Before: before, Harness: harness, Counts: counts), static (span, st) => Check(span, st.Id, st.Before, "TryRead", st.Harness, st.Counts));
                    break;
                case 3:
                    map.Refresh(keys[id]);
                    break;
                default:
                    map.ContainsKey(keys[id]);
                    break;
            }
        }
    }

    private static void Check(ReadOnlySpan<byte> value, int id, long before, string how, StressHarness harness, Counts counts)
    {
        string? error = StressValue.Verify(value, id);
        if (error is not null)
        {
            harness.Fail($"{how}: {error}");
            return;
        }

        long deadline = StressValue.SequenceOf(value);
        if (deadline <= before)
        {
            harness.Fail($"{how}: EXPIRED value returned for key {id}: its deadline {deadline} is {before - deadline} ticks before the clock reading {before} taken before the read");
            return;
        }

        Interlocked.Increment(ref counts.Hits);
        if (deadline - before <= s_nearTicks)
        {
            Interlocked.Increment(ref counts.NearDeadlineHits);
        }
    }
}
