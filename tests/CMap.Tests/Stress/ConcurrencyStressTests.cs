using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using CMap;
using CMap.Buffer;
using CMap.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Stress;

/// <summary>
/// Concurrency stress: threads start together, every value describes itself (<see cref="StressValue"/>), and every
/// wait is bounded. Seeds come from CMAP_STRESS_SEED when set; each test prints its seed and event counts.
/// Sized for a 2-core CI machine: each scenario runs for a few seconds.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class ConcurrencyStressTests(ITestOutputHelper output)
{
    private const int ReadBufferSize = 16 << 10;

    private static int Seed(int fallback)
    {
        string? env = Environment.GetEnvironmentVariable("CMAP_STRESS_SEED");
        return env is not null && int.TryParse(env, NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s ^ fallback : fallback;
    }

    /// <summary>Value lengths: mostly small, some over half a 1 KiB chunk's payload, a few over half a 4 KiB one (oversize blocks).</summary>
    private static int NextLength(Random rng)
    {
        int r = rng.Next(100);
        return r switch
        {
            < 70 => rng.Next(StressValue.HeaderSize, 200),
            < 95 => rng.Next(200, 600),
            < 99 => rng.Next(600, 1500),
            _ => rng.Next(1500, 3000),
        };
    }

    // ---------------------------------------------------------------------------------------------------------
    // a. Readers and writers while the index grows and shrinks and chunks are retired, reused (poisoned) and compacted.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public void ReadersNeverSeeTornForeignOrFreedValuesWhileTablesRebuildAndChunksRetire()
    {
        int seed = Seed(101);
        const int keyCount = 4096;
        const int stableKeys = 128; // inserted up front, overwritten but never deleted: every read must find them
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 4,
            Seed = (ulong)seed,
            InitialCapacity = 0,
            ChunkSizes = [1024, 4096],
            MaxRetainedChunkBytes = 8192,
            PoisonFreedChunks = true,
            CompactionMinDeadBytes = 4096,
        });
        byte[][] keys = StressValue.Keys(keyCount);
        for (int k = 0; k < stableKeys; k++)
        {
            map.Insert(keys[k], StressValue.Create(k, 99, 0, 64));
        }

        var h = new StressHarness();
        var counters = new ReadCounters();
        var writes = new long[2];
        for (int w = 0; w < 2; w++)
        {
            int writer = w;
            h.Add($"writer-{w}", () =>
            {
                // Waves over this writer's half of the churn keys: fill (the index grows), then drain (it shrinks).
                var rng = new Random(seed + writer);
                int lo = stableKeys + (writer * (keyCount - stableKeys) / 2);
                int hi = stableKeys + ((writer + 1) * (keyCount - stableKeys) / 2);
                long seq = 0;
                while (!h.Stopping)
                {
                    for (int k = lo; k < hi && !h.Stopping; k++)
                    {
                        WriteSomething(map, keys, rng, k, writer, ++seq, stableKeys);
                    }

                    for (int k = lo; k < hi && !h.Stopping; k++)
                    {
                        if (rng.Next(10) != 0)
                        {
                            map.Delete(keys[k]);
                        }

                        if (rng.Next(16) == 0)
                        {
                            int s = rng.Next(stableKeys);
                            map.Insert(keys[s], StressValue.Create(s, writer, ++seq, NextLength(rng)));
                        }
                    }

                    writes[writer] = seq;
                }
            });
        }

        for (int r = 0; r < 2; r++)
        {
            int reader = r;
            h.Add($"reader-{r}", () => ReaderLoop(map, keys, h, counters, new Random(seed + 1000 + reader), k => k < stableKeys));
        }

        long explicitCompactions = 0;
        h.Add("compactor", () =>
        {
            // Explicit passes on top of the background compactor: entries move while the readers read them.
            while (!h.Pause(20))
            {
                map.Compact();
                explicitCompactions++;
            }
        });

        var sw = Stopwatch.StartNew();
        h.Start();
        h.RunFor(TimeSpan.FromSeconds(4));
        h.StopAndJoin();

        CMapStatistics stats = map.GetStatistics();
        RetireList retired = map.RetiredForTests;
        output.WriteLine($"seed {seed}, {sw.ElapsedMilliseconds} ms: {counters}, writes {writes.Sum()}");
        output.WriteLine($"index rebuilds {stats.IndexRebuilds}, frees while readers were active {retired.ReleasedWhileReadersActive} (of {retired.ReleasedItems} released), chunks allocated {stats.ChunksAllocated}, returned to OS {stats.ChunksReturnedToOs}, compaction passes {stats.CompactionPasses} ({explicitCompactions} explicit), chunks compacted {stats.ChunksCompacted}, compaction errors {stats.CompactionErrors}");
        if (stats.LastCompactionError is not null)
        {
            output.WriteLine($"last compaction error: {stats.LastCompactionError}");
        }

        h.AssertNoFailures($"seed {seed}");
        Assert.True(counters.Hits > 1000, $"too few successful reads to mean anything: {counters}");
        Assert.True(stats.IndexRebuilds > 0, "no index rebuild happened: the scenario did not exercise rebuilds under readers");
        Assert.True(retired.ReleasedWhileReadersActive > 0, "nothing was freed while readers were inside a read: the grace period was never exercised");

        map.Dispose();
        Assert.Equal(0, map.ArenaForTests.OutstandingBytes);
    }

    /// <summary>
    /// Control run for the detector used above: chunks go back to the pool (poisoned, quarantined) the moment they are
    /// retired, skipping the grace period. The same readers must notice within the time limit; if they did not,
    /// the passing runs above would prove nothing.
    /// </summary>
    [Fact]
    public void ControlRunTheReadersCatchChunksFreedWithoutAGracePeriod()
    {
        int seed = Seed(111);
        const int keyCount = 2048;
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 2,
            Seed = (ulong)seed,
            ChunkSizes = [1024],
            PoisonFreedChunks = true,
            BackgroundCompaction = false,
        });
        map.RetiredForTests.UnsafeSkipGracePeriod = true;
        byte[][] keys = StressValue.Keys(keyCount);
        var h = new StressHarness();
        var counters = new ReadCounters();
        h.Add("writer", () =>
        {
            var rng = new Random(seed);
            for (long seq = 1; !h.Stopping; seq++)
            {
                int k = rng.Next(keyCount);
                map.Insert(keys[k], StressValue.Create(k, 0, seq, rng.Next(StressValue.HeaderSize, 400)));
            }
        });
        for (int r = 0; r < 2; r++)
        {
            int reader = r;
            h.Add($"reader-{r}", () => ReaderLoop(map, keys, h, counters, new Random(seed + 10 + reader), static _ => false, controlRun: true));
        }

        h.Start();
        h.RunFor(TimeSpan.FromSeconds(10));
        h.StopAndJoin();
        map.RetiredForTests.UnsafeSkipGracePeriod = false;
        output.WriteLine($"seed {seed}: {counters}; violations {counters.Violations}; first: {counters.FirstViolation}");
        h.AssertNoFailures($"seed {seed}");
        Assert.True(counters.Violations > 0, $"the detector saw nothing in 10 s although chunks were freed under the readers: {counters}");
    }

    private static void WriteSomething(ByteMap map, byte[][] keys, Random rng, int k, int writer, long seq, int stableKeys)
    {
        byte[] v = StressValue.Create(k, writer, seq, NextLength(rng));
        switch (rng.Next(10))
        {
            case 0:
                map.TryAdd(keys[k], v);
                break;
            case 1:
                byte[] got = map.GetOrInsert(keys[k], v, out _);
                string? err = StressValue.Verify(got, k);
                if (err is not null)
                {
                    throw new InvalidOperationException($"GetOrInsert returned a bad value: {err}");
                }

                break;
            case 2:
                int s = rng.Next(stableKeys);
                map.Insert(keys[s], StressValue.Create(s, writer, seq, NextLength(rng)));
                break;
            default:
                map.Insert(keys[k], v);
                break;
        }
    }

    /// <summary>Reads random keys through every read API and checks each value it sees.</summary>
    private static void ReaderLoop(ByteMap map, byte[][] keys, StressHarness h, ReadCounters counters, Random rng, Func<int, bool> mustExist, bool controlRun = false)
    {
        var reader = new VerifyingReader();
        long hits = 0, misses = 0, reads = 0;
        while (!h.Stopping)
        {
            int k = rng.Next(keys.Length);
            (bool found, string? error, _) = reader.Read(map, keys[k], k, rng.Next(5));
            reads++;
            if (error is not null)
            {
                if (controlRun)
                {
                    // The control run expects this: record it and stop everyone.
                    Interlocked.Increment(ref counters.Violations);
                    Interlocked.CompareExchange(ref counters.FirstViolation, $"key {k}: {error}", null);
                    h.Stop();
                    break;
                }

                h.Fail($"key {k}: {error}");
                break;
            }

            if (found)
            {
                hits++;
            }
            else
            {
                misses++;
                if (mustExist(k))
                {
                    h.Fail($"key {k} is never deleted but a read missed it (lost during a rebuild, compaction or overwrite?)");
                    break;
                }
            }
        }

        Interlocked.Add(ref counters.Reads, reads);
        Interlocked.Add(ref counters.Hits, hits);
        Interlocked.Add(ref counters.Misses, misses);
    }

    // ---------------------------------------------------------------------------------------------------------
    // b. A read that starts after an Insert returned sees that value or a later one.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public void AReadThatStartsAfterAnInsertReturnedSeesThatInsertOrALaterOne()
    {
        int seed = Seed(202);
        const int churnKeys = 3000;
        const int monotonicKey = churnKeys; // id of the key whose sequence only grows
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 1, // the churn rebuilds the very table that holds the monotonic key
            Seed = (ulong)seed,
            ChunkSizes = [1024, 4096],
            CompactionMinDeadBytes = 2048,
        });
        byte[][] keys = StressValue.Keys(churnKeys + 1);
        map.Insert(keys[monotonicKey], StressValue.Create(monotonicKey, 0, 0, 40));
        long published = 0;
        long checks = 0, maxLag = 0;

        var h = new StressHarness();
        h.Add("sequencer", () =>
        {
            var rng = new Random(seed);
            for (long seq = 1; !h.Stopping; seq++)
            {
                map.Insert(keys[monotonicKey], StressValue.Create(monotonicKey, 0, seq, NextLength(rng)));
                Volatile.Write(ref published, seq); // only after Insert returned
            }
        });
        h.Add("churn", () =>
        {
            var rng = new Random(seed + 1);
            long seq = 0;
            while (!h.Stopping)
            {
                for (int k = 0; k < churnKeys && !h.Stopping; k++)
                {
                    map.Insert(keys[k], StressValue.Create(k, 1, ++seq, NextLength(rng)));
                }

                for (int k = 0; k < churnKeys && !h.Stopping; k++)
                {
                    map.Delete(keys[k]);
                }
            }
        });
        for (int r = 0; r < 2; r++)
        {
            int readerId = r;
            h.Add($"reader-{r}", () =>
            {
                var rng = new Random(seed + 100 + readerId);
                var reader = new VerifyingReader();
                long lastSeen = 0, localChecks = 0, localMaxLag = 0;
                while (!h.Stopping)
                {
                    long n = Volatile.Read(ref published);
                    (bool found, string? error, long seq) = reader.Read(map, keys[monotonicKey], monotonicKey, rng.Next(4)); // value-returning modes only
                    localChecks++;
                    if (error is not null || !found)
                    {
                        h.Fail($"reader {readerId}: the monotonic key read {(found ? error : "absent")}");
                        break;
                    }

                    if (seq < n)
                    {
                        h.Fail($"STALE READ: reader {readerId} saw Insert #{n} return, then read #{seq}");
                        break;
                    }

                    if (seq < lastSeen)
                    {
                        h.Fail($"NON-MONOTONIC: reader {readerId} read #{lastSeen}, then #{seq}");
                        break;
                    }

                    localMaxLag = Math.Max(localMaxLag, seq - n);
                    lastSeen = seq;
                }

                Interlocked.Add(ref checks, localChecks);
                InterlockedMax(ref maxLag, localMaxLag);
            });
        }

        h.Start();
        h.RunFor(TimeSpan.FromSeconds(3));
        h.StopAndJoin();
        CMapStatistics stats = map.GetStatistics();
        output.WriteLine($"seed {seed}: {checks} ordered reads, {Volatile.Read(ref published)} inserts published, index rebuilds {stats.IndexRebuilds}, chunks compacted {stats.ChunksCompacted}, frees while reading {map.RetiredForTests.ReleasedWhileReadersActive}");
        h.AssertNoFailures($"seed {seed}");
        Assert.True(checks > 1000 && Volatile.Read(ref published) > 1000, $"too little happened: {checks} reads, {published} inserts");
        Assert.True(stats.IndexRebuilds > 0, "the churn never rebuilt the table");
    }

    // ---------------------------------------------------------------------------------------------------------
    // c. GetOrInsert / TryAdd: of racing callers exactly one adds, and every caller gets the winner's value.
    // ---------------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RacingGetOrInsertOrTryAddHasExactlyOneWinnerPerKey(bool useTryAdd)
    {
        int seed = Seed(useTryAdd ? 303 : 304);
        const int threads = 4, keysPerRound = 32, rounds = 250;
        using var map = new ByteMap(new CMapConfig { ShardCount = 4, Seed = (ulong)seed, ChunkSizes = [1024, 4096], CompactionMinDeadBytes = 4096 });
        var inserted = new bool[threads, keysPerRound];
        var returnedWriter = new int[threads, keysPerRound];
        using var barrier = new Barrier(threads + 1);
        var h = new StressHarness();
        for (int t = 0; t < threads; t++)
        {
            int me = t;
            h.Add($"racer-{t}", () =>
            {
                var rng = new Random(seed + me);
                for (int round = 0; round < rounds && !h.Stopping; round++)
                {
                    if (!barrier.SignalAndWait(StressHarness.WaitTimeout))
                    {
                        h.Fail($"racer {me}: round {round} start barrier timed out");
                        return;
                    }

                    for (int i = 0; i < keysPerRound; i++)
                    {
                        int keyId = (round * keysPerRound) + i; // fresh keys every round; every racer in the same order
                        byte[] key = StressValue.Key(keyId);
                        byte[] mine = StressValue.Create(keyId, me, round, rng.Next(StressValue.HeaderSize, 700));
                        if (useTryAdd)
                        {
                            inserted[me, i] = map.TryAdd(key, mine);
                            returnedWriter[me, i] = -1;
                        }
                        else
                        {
                            byte[] got = map.GetOrInsert(key, mine, out bool added);
                            inserted[me, i] = added;
                            string? err = StressValue.Verify(got, keyId);
                            returnedWriter[me, i] = err is null ? StressValue.WriterOf(got) : -2;
                            if (err is not null)
                            {
                                h.Fail($"racer {me}: GetOrInsert returned a bad value: {err}");
                            }
                        }
                    }

                    if (!barrier.SignalAndWait(StressHarness.WaitTimeout))
                    {
                        h.Fail($"racer {me}: round {round} end barrier timed out");
                        return;
                    }
                }
            });
        }

        h.Start();
        int roundsChecked = 0;
        for (int round = 0; round < rounds && !h.Stopping; round++)
        {
            if (!barrier.SignalAndWait(StressHarness.WaitTimeout) || !barrier.SignalAndWait(StressHarness.WaitTimeout))
            {
                h.Fail($"main: round {round} barrier timed out");
                break;
            }

            for (int i = 0; i < keysPerRound; i++)
            {
                int keyId = (round * keysPerRound) + i;
                int winners = 0, winner = -1;
                for (int t = 0; t < threads; t++)
                {
                    if (inserted[t, i])
                    {
                        winners++;
                        winner = t;
                    }
                }

                if (winners != 1)
                {
                    h.Fail($"round {round} key {keyId}: {winners} callers reported that they added it (exactly one must)");
                    break;
                }

                byte[]? stored = map.Get(StressValue.Key(keyId));
                string? err = stored is null ? "absent" : StressValue.Verify(stored, keyId);
                if (err is not null || StressValue.WriterOf(stored) != winner)
                {
                    h.Fail($"round {round} key {keyId}: stored value {err ?? $"written by {StressValue.WriterOf(stored)}"}, but racer {winner} won");
                    break;
                }

                for (int t = 0; t < threads && !useTryAdd; t++)
                {
                    if (returnedWriter[t, i] != winner)
                    {
                        h.Fail($"round {round} key {keyId}: racer {t} got the value of racer {returnedWriter[t, i]}, but racer {winner} won");
                    }
                }
            }

            roundsChecked++;
        }

        h.StopAndJoin();
        output.WriteLine($"seed {seed}, {(useTryAdd ? "TryAdd" : "GetOrInsert")}: {roundsChecked} rounds × {keysPerRound} keys × {threads} racers checked; count {map.Count}, index rebuilds {map.GetStatistics().IndexRebuilds}");
        h.AssertNoFailures($"seed {seed}");
        Assert.Equal(rounds, roundsChecked);
        Assert.Equal((long)rounds * keysPerRound, map.Count);
    }

    // ---------------------------------------------------------------------------------------------------------
    // d. Writers on disjoint key sets: after they finish, the contents are exactly the union of their models.
    // ---------------------------------------------------------------------------------------------------------

    public static TheoryData<string> DisjointConfigs => new() { "small-chunks", "forced-collisions" };

    [Theory]
    [MemberData(nameof(DisjointConfigs))]
    public void DisjointWritersLeaveExactlyTheContentsTheirModelsPredict(string config)
    {
        int seed = Seed(config.Length * 404);
        bool collisions = config == "forced-collisions";
        const int writers = 3;
        int keyCount = collisions ? 600 : 3000;
        int opsPerWriter = collisions ? 6000 : 20_000;
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 4,
            Seed = (ulong)seed,
            ChunkSizes = [1024, 4096],
            CompactionMinDeadBytes = 4096,
            // Keep 1 tag bit (61; hash bits 62-63 are not stored), 2 shard bits and 4 first-slot bits: keys of different
            // writers share probe chains and most share a tag.
            HashMask = collisions ? 0xE000_0003_0000_000FUL : ulong.MaxValue,
        });
        byte[][] keys = StressValue.Keys(keyCount);
        var models = new Dictionary<int, byte[]>[writers];
        var h = new StressHarness();
        var writerThreads = new List<Thread>();
        for (int w = 0; w < writers; w++)
        {
            int me = w;
            models[me] = [];
            writerThreads.Add(h.Add($"writer-{w}", () => DisjointWriter(map, keys, models[me], me, writers, opsPerWriter, new Random(seed + me), h)));
        }

        var counters = new ReadCounters();
        h.Add("reader", () => ReaderLoop(map, keys, h, counters, new Random(seed + 77), static _ => false));

        var sw = Stopwatch.StartNew();
        h.Start();
        h.Join(writerThreads);
        h.StopAndJoin();
        h.AssertNoFailures($"config {config} seed {seed}");

        var expected = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        foreach (Dictionary<int, byte[]> m in models)
        {
            foreach (KeyValuePair<int, byte[]> kv in m)
            {
                expected[keys[kv.Key]] = kv.Value;
            }
        }

        for (int k = 0; k < keyCount; k++)
        {
            byte[]? got = map.Get(keys[k]);
            expected.TryGetValue(keys[k], out byte[]? want);
            Assert.True(
                want is null ? got is null : got is not null && got.AsSpan().SequenceEqual(want),
                $"config {config} seed {seed}: key {k} holds {ModelRules.Describe(got)}, expected {ModelRules.Describe(want)}");
        }

        CMapStatistics stats = map.GetStatistics();
        output.WriteLine($"config {config} seed {seed}, {sw.ElapsedMilliseconds} ms: {writers}×{opsPerWriter} writes, {counters}; {expected.Count} keys left, index rebuilds {stats.IndexRebuilds}, chunks compacted {stats.ChunksCompacted}, frees while reading {map.RetiredForTests.ReleasedWhileReadersActive}");
        Assert.Equal(expected.Count, map.Count);
        Assert.Equal(ModelRules.LiveBytes(expected), stats.LiveBytes);
        map.Dispose();
        Assert.Equal(0, map.ArenaForTests.OutstandingBytes);
    }

    private static void DisjointWriter(ByteMap map, byte[][] keys, Dictionary<int, byte[]> model, int me, int writers, int ops, Random rng, StressHarness h)
    {
        int owned = (keys.Length - me + writers - 1) / writers;
        for (long seq = 1; seq <= ops && !h.Stopping; seq++)
        {
            int k = me + (writers * rng.Next(owned));
            model.TryGetValue(k, out byte[]? current);
            byte[] v = StressValue.Create(k, me, seq, NextLength(rng));
            int op = rng.Next(100);
            string? problem = null;
            if (op < 45)
            {
                if (map.Insert(keys[k], v) != (current is null))
                {
                    problem = "Insert's added flag";
                }

                model[k] = v;
            }
            else if (op < 70)
            {
                if (map.Delete(keys[k]) != (current is not null))
                {
                    problem = "Delete's result";
                }

                model.Remove(k);
            }
            else if (op < 80)
            {
                if (map.TryAdd(keys[k], v) != (current is null))
                {
                    problem = "TryAdd's result";
                }

                model.TryAdd(k, v);
            }
            else if (op < 90)
            {
                byte[] got = map.GetOrInsert(keys[k], v, out bool added);
                if (added != (current is null) || !got.AsSpan().SequenceEqual(current ?? v))
                {
                    problem = "GetOrInsert's result";
                }

                model.TryAdd(k, v);
            }
            else
            {
                byte[]? got = map.Get(keys[k]); // read-your-writes: only this thread writes key k
                if (current is null ? got is not null : got is null || !got.AsSpan().SequenceEqual(current))
                {
                    problem = $"Get (read-your-writes: {ModelRules.Describe(got)} vs {ModelRules.Describe(current)})";
                }
            }

            if (problem is not null)
            {
                h.Fail($"writer {me} op {seq} on its own key {k}: wrong {problem}");
                return;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // e. Clear and Dispose racing with readers and writers.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public void ClearRacingReadersAndWritersNeverCorruptsAValueAndLeavesConsistentCounters()
    {
        int seed = Seed(505);
        const int keyCount = 2000;
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 4,
            Seed = (ulong)seed,
            ChunkSizes = [1024, 4096],
            MaxRetainedChunkBytes = 8192,
            PoisonFreedChunks = true,
            CompactionMinDeadBytes = 4096,
        });
        byte[][] keys = StressValue.Keys(keyCount);
        var h = new StressHarness();
        long clears = 0;
        for (int w = 0; w < 2; w++)
        {
            int me = w;
            h.Add($"writer-{w}", () =>
            {
                var rng = new Random(seed + me);
                for (long seq = 1; !h.Stopping; seq++)
                {
                    int k = rng.Next(keyCount);
                    if (rng.Next(4) == 0)
                    {
                        map.Delete(keys[k]);
                    }
                    else
                    {
                        WriteSomething(map, keys, rng, k, me, seq, 1);
                    }
                }
            });
        }

        var counters = new ReadCounters();
        h.Add("reader", () => ReaderLoop(map, keys, h, counters, new Random(seed + 50), static _ => false));
        h.Add("clearer", () =>
        {
            while (!h.Pause(2))
            {
                map.Clear();
                _ = map.Count;
                _ = map.GetStatistics();
                Interlocked.Increment(ref clears);
            }
        });

        long compactions = 0;
        h.Add("compactor", () =>
        {
            // Compaction racing Clear: a pass must drop the chunks Clear retired under it.
            while (!h.Pause(3))
            {
                map.Compact();
                Interlocked.Increment(ref compactions);
            }
        });

        h.Start();
        h.RunFor(TimeSpan.FromSeconds(2.5));
        h.StopAndJoin();
        h.AssertNoFailures($"seed {seed}");

        // Quiet now: the counters must describe exactly what is left.
        var left = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        for (int k = 0; k < keyCount; k++)
        {
            byte[]? v = map.Get(keys[k]);
            if (v is not null)
            {
                Assert.Null(StressValue.Verify(v, k));
                left[keys[k]] = v;
            }
        }

        CMapStatistics stats = map.GetStatistics();
        output.WriteLine($"seed {seed}: {Volatile.Read(ref clears)} clears, {Volatile.Read(ref compactions)} Compact() calls, {counters}, {left.Count} keys left, frees while reading {map.RetiredForTests.ReleasedWhileReadersActive}, compaction errors {stats.CompactionErrors}");
        Assert.True(Volatile.Read(ref clears) > 10, "Clear hardly ran");
        Assert.Equal(left.Count, map.Count);
        Assert.Equal(ModelRules.LiveBytes(left), stats.LiveBytes);
        map.Clear();
        Assert.Equal(0, map.Count);
        Assert.Equal(0, map.GetStatistics().LiveBytes);
        map.Dispose();
        Assert.Equal(0, map.ArenaForTests.OutstandingBytes);
    }

    [Fact]
    public void DisposeRacingInFlightCallsEndsEachInSuccessOrObjectDisposedException()
    {
        int seed = Seed(606);
        var rng = new Random(seed);
        const int iterations = 24, keyCount = 600;
        byte[][] keys = StressValue.Keys(keyCount);
        long completedCalls = 0, disposedCalls = 0, slowCallbacks = 0;
        for (int it = 0; it < iterations; it++)
        {
            var map = new ByteMap((it % 3) switch
            {
                0 => new CMapConfig { ShardCount = 4, Seed = (ulong)(seed + it), ChunkSizes = [1024, 4096], PoisonFreedChunks = true, MaxRetainedChunkBytes = 4096 },
                1 => new CMapConfig { ShardCount = 2, Seed = (ulong)(seed + it), CompactionMinDeadBytes = 1024 },
                _ => new CMapConfig { ShardCount = 1, Seed = (ulong)(seed + it), ChunkSizes = [1024], BackgroundCompaction = false, MaxRetainedChunkBytes = 0 },
            });
            for (int k = 0; k < keyCount; k++)
            {
                map.Insert(keys[k], StressValue.Create(k, 9, 0, NextLength(rng)));
            }

            var h = new StressHarness();
            int iteration = it;
            for (int t = 0; t < 4; t++)
            {
                int me = t;
                h.Add($"caller-{t}", () =>
                {
                    var r = new Random(seed + (iteration * 10) + me);
                    var reader = new VerifyingReader { SlowCallback = me == 0 };
                    long done = 0;
                    try
                    {
                        for (long seq = 1; !h.Stopping; seq++)
                        {
                            int k = r.Next(keyCount);
                            string? error = me switch
                            {
                                0 or 1 => reader.Read(map, keys[k], k, r.Next(5)).Error,
                                2 => WriteOrDelete(map, keys, r, k, me, seq),
                                _ => Misc(map, keys, r, k, me, seq),
                            };
                            if (error is not null)
                            {
                                h.Fail($"iteration {iteration} caller {me}: {error}");
                                return;
                            }

                            done++;
                        }
                    }
                    catch (ObjectDisposedException)
                    {
                        Interlocked.Increment(ref disposedCalls);
                    }

                    Interlocked.Add(ref completedCalls, done);
                    Interlocked.Add(ref slowCallbacks, reader.SlowCallbacks);
                });
            }

            // A second thread disposes at the same moment as the main one: Dispose is idempotent.
            h.Add("second-disposer", () =>
            {
                h.Pause(5 + (iteration % 7));
                map.Dispose();
            });

            h.Start();
            h.Pause(rng.Next(1, 25));
            map.Dispose();
            // Every call that starts now must throw ObjectDisposedException: callers end by themselves.
            SpinWait.SpinUntil(() => h.FailureCount != 0 || Volatile.Read(ref disposedCalls) >= (iteration + 1) * 4, StressHarness.WaitTimeout);

            h.StopAndJoin();
            h.AssertNoFailures($"seed {seed} iteration {it}");
            Assert.True(
                map.ArenaForTests.OutstandingBytes == 0,
                $"seed {seed} iteration {it}: {map.ArenaForTests.OutstandingBytes} native bytes outstanding after Dispose");
            Assert.Throws<ObjectDisposedException>(() => map.Get(keys[0]));
            Assert.Throws<ObjectDisposedException>(() => map.Insert(keys[0], keys[0]));
        }

        output.WriteLine($"seed {seed}: {iterations} maps disposed under load; {completedCalls} calls completed, {disposedCalls} callers ended by ObjectDisposedException, {slowCallbacks} slow TryRead callbacks");
        Assert.Equal(iterations * 4, disposedCalls);
    }

    private static string? WriteOrDelete(ByteMap map, byte[][] keys, Random r, int k, int me, long seq)
    {
        switch (r.Next(4))
        {
            case 0:
                map.Delete(keys[k]);
                return null;
            case 1:
                map.TryAdd(keys[k], StressValue.Create(k, me, seq, NextLength(r)));
                return null;
            case 2:
                byte[] got = map.GetOrInsert(keys[k], StressValue.Create(k, me, seq, NextLength(r)), out _);
                return StressValue.Verify(got, k);
            default:
                map.Insert(keys[k], StressValue.Create(k, me, seq, NextLength(r)));
                return null;
        }
    }

    private static string? Misc(ByteMap map, byte[][] keys, Random r, int k, int me, long seq)
    {
        switch (r.Next(20))
        {
            case 0:
                map.Clear();
                return null;
            case 1:
                return map.Compact() < 0 ? "negative Compact result" : null;
            case < 5:
                return map.Count < 0 ? "negative Count" : null;
            case < 10:
                CMapStatistics s = map.GetStatistics();
                return s.Count < 0 ? $"negative statistics: {s}" : null;
            case < 12:
                return map.ContainsKey(keys[k]) && map.Get(keys[k]) is { } v ? StressValue.Verify(v, k) : null;
            default:
                map.Insert(keys[k], StressValue.Create(k, me, seq, NextLength(r)));
                return null;
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // f. Compaction racing writers: Compact() documents only OutOfMemory, InvalidOperation (inside a callback) and
    //    ObjectDisposed; the background compactor must record no error when memory is plentiful.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public void ExplicitCompactRacingWritersThrowsNothingUndocumentedAndLosesNothing()
    {
        int seed = Seed(707);
        const int keyCount = 1500;
        // One shard, so every free of a chunk happens under the same shard lock the compactor takes (no unmapped
        // memory can be touched; a bug shows as an exception, not a crash). Nothing retained: a retired chunk is
        // returned to the OS at the next drain.
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 1,
            Seed = (ulong)seed,
            ChunkSizes = [1024],
            MaxRetainedChunkBytes = 0,
            BackgroundCompaction = false,
        });
        byte[][] keys = StressValue.Keys(keyCount);
        var models = new Dictionary<int, byte[]>[2];
        var h = new StressHarness();
        var writerThreads = new List<Thread>();
        for (int w = 0; w < 2; w++)
        {
            int me = w;
            models[me] = [];
            writerThreads.Add(h.Add($"writer-{w}", () => DisjointWriter(map, keys, models[me], me, 2, 60_000, new Random(seed + me), h)));
        }

        long compactions = 0, chunks = 0;
        h.Add("compactor", () =>
        {
            while (!h.Stopping)
            {
                chunks += map.Compact();
                compactions++;
            }
        });
        var counters = new ReadCounters();
        h.Add("reader", () => ReaderLoop(map, keys, h, counters, new Random(seed + 9), static _ => false));

        h.Start();
        var sw = Stopwatch.StartNew();
        foreach (Thread t in writerThreads)
        {
            TimeSpan left = TimeSpan.FromSeconds(4) - sw.Elapsed;
            if (left <= TimeSpan.Zero || h.Stopping || !t.Join(left))
            {
                break;
            }
        }

        h.StopAndJoin();
        CMapStatistics stats = map.GetStatistics();
        output.WriteLine($"seed {seed}, {sw.ElapsedMilliseconds} ms: {compactions} Compact() calls moved {chunks} chunks ({stats.CompactionBytesMoved} bytes); {counters}; chunks returned to OS {stats.ChunksReturnedToOs}");
        h.AssertNoFailures($"seed {seed}");
        AssertModelsMatch(map, keys, models);
    }

    [Fact]
    public void BackgroundCompactionRacingWritersRecordsNoErrorAndLosesNothing()
    {
        int seed = Seed(808);
        const int keyCount = 1500;
        // As in the explicit test: one shard, 1 KiB chunks, nothing retained, and a compactor that runs constantly.
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 1,
            Seed = (ulong)seed,
            ChunkSizes = [1024],
            MaxRetainedChunkBytes = 0,
            CompactionMinDeadBytes = 0,
            CompactionDeadRatio = 0.05,
        });
        byte[][] keys = StressValue.Keys(keyCount);
        var models = new Dictionary<int, byte[]>[2];
        var h = new StressHarness();
        var writerThreads = new List<Thread>();
        for (int w = 0; w < 2; w++)
        {
            int me = w;
            models[me] = [];
            writerThreads.Add(h.Add($"writer-{w}", () => DisjointWriter(map, keys, models[me], me, 2, 150_000, new Random(seed + me), h)));
        }

        var counters = new ReadCounters();
        h.Add("reader", () => ReaderLoop(map, keys, h, counters, new Random(seed + 9), static _ => false));
        h.Start();
        var sw = Stopwatch.StartNew();
        foreach (Thread t in writerThreads)
        {
            TimeSpan left = TimeSpan.FromSeconds(4) - sw.Elapsed;
            if (left <= TimeSpan.Zero || h.Stopping || !t.Join(left))
            {
                break;
            }
        }

        h.StopAndJoin();
        CMapStatistics stats = map.GetStatistics();
        output.WriteLine($"seed {seed}, {sw.ElapsedMilliseconds} ms: {stats.CompactionPasses} passes, {stats.ChunksCompacted} chunks compacted, {stats.CompactionErrors} errors; {counters}");
        h.AssertNoFailures($"seed {seed}");
        AssertModelsMatch(map, keys, models);
        Assert.True(stats.CompactionPasses > 0, "the background compactor never ran");
        Assert.True(stats.CompactionErrors == 0, $"the background compactor failed {stats.CompactionErrors} times with plenty of memory; last: {stats.LastCompactionError}");
    }

    // ---------------------------------------------------------------------------------------------------------
    // The process-wide native total returns to where it started once the maps of a burst are disposed.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public void TheProcessWideNativeTotalReturnsToItsStartingPoint()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = NativeArena.TotalOutstandingBytes;
        var rng = new Random(Seed(909));
        var maps = new List<ByteMap>();
        for (int m = 0; m < 6; m++)
        {
            var map = new ByteMap(new CMapConfig { ShardCount = 1 << m, Seed = (ulong)m, ChunkSizes = [1024, 8192], PoisonFreedChunks = m % 2 == 0 });
            for (int k = 0; k < 500; k++)
            {
                map.Insert(StressValue.Key(k), new byte[NextLength(rng)]);
            }

            map.Insert("big"u8, new byte[300_000]);
            maps.Add(map);
        }

        Assert.True(NativeArena.TotalOutstandingBytes > before);
        foreach (ByteMap map in maps)
        {
            map.Dispose();
        }

        Assert.Equal(before, NativeArena.TotalOutstandingBytes);
    }

    private static void AssertModelsMatch(ByteMap map, byte[][] keys, Dictionary<int, byte[]>[] models)
    {
        long count = 0, live = 0;
        foreach (Dictionary<int, byte[]> m in models)
        {
            foreach (KeyValuePair<int, byte[]> kv in m)
            {
                byte[]? got = map.Get(keys[kv.Key]);
                Assert.True(got is not null && got.AsSpan().SequenceEqual(kv.Value), $"key {kv.Key}: {ModelRules.Describe(got)} instead of {ModelRules.Describe(kv.Value)}");
                count++;
                live += ModelRules.EntrySize(keys[kv.Key].Length, kv.Value.Length);
            }
        }

        Assert.Equal(count, map.Count);
        Assert.Equal(live, map.GetStatistics().LiveBytes);
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen = Volatile.Read(ref target);
        while (value > seen)
        {
            long prior = Interlocked.CompareExchange(ref target, value, seen);
            if (prior == seen)
            {
                return;
            }

            seen = prior;
        }
    }

    private sealed class ReadCounters
    {
        public long Reads;
        public long Hits;
        public long Misses;
        public long Violations;
        public string? FirstViolation;

        public override string ToString() => $"{Reads} reads ({Hits} hits, {Misses} misses)";
    }

    /// <summary>One reader's reusable buffers; reads a key with one of five APIs and verifies what it sees.</summary>
    private sealed class VerifyingReader
    {
        private readonly byte[] _buffer = new byte[ReadBufferSize];
        private readonly ArrayBufferWriter<byte> _writer = new(ReadBufferSize);
        private readonly CallbackState _state = new();

        /// <summary>When set, TryRead callbacks hold the span a while and check it twice (Dispose must wait for them).</summary>
        public bool SlowCallback { get; init; }

        public long SlowCallbacks => _state.SlowCallbacks;

        public (bool Found, string? Error, long Sequence) Read(ByteMap map, byte[] key, int keyId, int mode)
        {
            switch (mode)
            {
                case 0:
                {
                    bool found = map.TryGet(key, _buffer, out int written);
                    if (!found)
                    {
                        return (false, written == 0 ? null : $"TryGet missed with written={written} into a {ReadBufferSize}-byte buffer", 0);
                    }

                    ReadOnlySpan<byte> v = _buffer.AsSpan(0, written);
                    return (true, StressValue.Verify(v, keyId), SafeSequence(v));
                }

                case 1:
                {
                    byte[]? v = map.Get(key);
                    return v is null ? (false, null, 0) : (true, StressValue.Verify(v, keyId), SafeSequence(v));
                }

                case 2:
                {
                    _writer.ResetWrittenCount();
                    if (!map.TryGet(key, _writer))
                    {
                        return (false, _writer.WrittenCount == 0 ? null : "TryGet(IBufferWriter) missed but wrote bytes", 0);
                    }

                    ReadOnlySpan<byte> v = _writer.WrittenSpan;
                    return (true, StressValue.Verify(v, keyId), SafeSequence(v));
                }

                case 3:
                {
                    _state.KeyId = keyId;
                    _state.Slow = SlowCallback;
                    _state.Error = null;
                    _state.Calls = 0;
                    bool found = map.TryRead(key, _state, static (span, s) =>
                    {
                        s.Calls++;
                        s.Error = StressValue.Verify(span, s.KeyId);
                        s.Sequence = s.Error is null ? StressValue.SequenceOf(span) : -1;
                        if (s.Slow && s.Error is null)
                        {
                            // Hold the span while other threads overwrite, compact, clear or dispose; it must not change.
                            s.SlowCallbacks++;
                            Thread.SpinWait(2000);
                            s.Error = StressValue.Verify(span, s.KeyId) is { } later ? "the span changed while the callback held it: " + later : null;
                        }
                    });
                    if (found != (_state.Calls == 1))
                    {
                        return (found, $"TryRead returned {found} but called the callback {_state.Calls} times", 0);
                    }

                    return (found, found ? _state.Error : null, _state.Sequence);
                }

                default:
                {
                    bool contains = map.ContainsKey(key);
                    return (contains, null, -1);
                }
            }
        }

        private static long SafeSequence(ReadOnlySpan<byte> v) => v.Length >= StressValue.HeaderSize ? StressValue.SequenceOf(v) : -1;

        private sealed class CallbackState
        {
            public int KeyId;
            public bool Slow;
            public string? Error;
            public long Sequence;
            public int Calls;
            public long SlowCallbacks;
        }
    }
}
