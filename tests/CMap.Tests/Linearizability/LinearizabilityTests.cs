using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using CMap.Tests.Stress;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Linearizability;

/// <summary>
/// Per-key linearizability of every <see cref="ByteMap"/> operation, checked on recorded concurrent histories (a few
/// keys, 3 threads, 6 to 12 operations each) with a Wing–Gong/Lowe search against a register model
/// (<see cref="RegisterModel"/>), while compaction moves entries under the operations: 1–4 KiB chunks, no pooled
/// chunks, a thread calling <see cref="ByteMap.Compact"/> in a loop and background compaction at its lowest
/// thresholds. Expiry and eviction are spontaneous deletes in the model (a lossy register). A control store with
/// injected bugs proves the checker can fail. Seeds come from CMAP_STRESS_SEED when set; each test prints its seed
/// and counts.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class LinearizabilityTests(ITestOutputHelper output)
{
    private const int Histories = 3000;
    private const long StepBudget = 100_000;
    private const double MinOverlap = 0.20;
    private const double MaxUnknown = 0.01;

    private static int Seed(int fallback)
    {
        string? env = Environment.GetEnvironmentVariable("CMAP_STRESS_SEED");
        return env is not null && int.TryParse(env, NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s ^ fallback : fallback;
    }

    private static CMapConfig SmallChunks(int seed, long? maxBytes = null, TimeProvider? clock = null) => new()
    {
        ShardCount = 2,
        Seed = (ulong)seed,
        ChunkSizes = [1024, 2048, 4096],
        MaxRetainedChunkBytes = 0,
        CompactionDeadRatio = 0.05,
        CompactionMinDeadBytes = 0,
        MaxBytes = maxBytes,
        TimeProvider = clock,
        ExpirationScanInterval = CMapConfig.MinExpirationScanInterval,
    };

    [Fact]
    public void EveryOperationIsLinearizablePerKeyWhileCompactionMovesEntries()
    {
        int seed = Seed(7001);
        using var map = new ByteMap(SmallChunks(seed));
        Summary s = RecordAndCheck(seed, new RegisterStore(map), lossy: false, new RecorderSettings { Seed = seed, Histories = HistoryCount() });
        AssertPassed(s);
        Assert.True(s.Stats.ChunksCompacted > 0 && s.Stats.CompactionBytesMoved > 0, $"compaction never moved an entry under the operations: {s}");
    }

    [Fact]
    public void UnderAByteBudgetEvictionIsASpontaneousDeleteAndNothingElse()
    {
        int seed = Seed(7002);
        CMapConfig probe = SmallChunks(seed);
        long budget = probe.GetMinimumMaxBytes() * 3;
        output.WriteLine($"MaxBytes {budget:N0} (3 × the minimum for 2 shards of 1 KiB chunks)");
        using var map = new ByteMap(SmallChunks(seed, maxBytes: budget));
        Summary s = RecordAndCheck(seed, new RegisterStore(map), lossy: true, new RecorderSettings { Seed = seed, Histories = HistoryCount(), DeletePreviousKeys = false });
        AssertPassed(s);
        Assert.True(s.Stats.Evictions > 0, $"nothing was evicted, so the budget run tested nothing the plain run does not: {s}");
        Assert.True(s.NeededLoss > 0, $"no history needed a spontaneous delete to be explained: eviction never touched the keys under test: {s}");
    }

    [Fact]
    public void WithExpiryOnAMovingClockExpiryIsASpontaneousDeleteAndNothingElse()
    {
        int seed = Seed(7003);
        var clock = new FakeTimeProvider();
        using var map = new ByteMap(SmallChunks(seed, clock: clock));
        Summary s = RecordAndCheck(seed, new RegisterStore(map), lossy: true, new RecorderSettings { Seed = seed, Histories = HistoryCount(), Expiry = true, Clock = clock });
        AssertPassed(s);
        Assert.True(s.NeededLoss > 0, $"no history needed a spontaneous delete to be explained: nothing expired under the operations: {s}");
    }

    [Fact]
    public void TheCheckerRejectsAStoreThatReadsStaleValuesAndLosesDeletes()
    {
        int seed = Seed(7004);
        using var map = new ByteMap(SmallChunks(seed));
        var buggy = new BuggyStore(map, seed);
        var recorder = new HistoryRecorder(new RecorderSettings { Seed = seed, Histories = 500 }, buggy);
        Summary strict = Check(seed, recorder, map, lossy: false);
        Summary lossy = Check(seed, recorder, map, lossy: true, record: false);
        output.WriteLine($"control: {buggy.StaleReads} stale reads and {buggy.LostDeletes} lost deletes injected");
        output.WriteLine($"strict model: {strict}");
        output.WriteLine($"lossy model:  {lossy}");
        Assert.True(strict.IllegalHistories > 0, $"the checker accepted every history of a store that reads stale values and loses deletes: {strict}");
        Assert.True(lossy.IllegalHistories > 0, $"the lossy checker explained stale reads and lost deletes away as expiry: {lossy}");
        output.WriteLine("control caught: yes");
    }

    /// <summary>
    /// Histories per run: 3,000, or more with CMAP_LIN_HISTORIES (a longer local hunt; never fewer, so the run keeps
    /// its meaning).
    /// </summary>
    private static int HistoryCount()
    {
        string? env = Environment.GetEnvironmentVariable("CMAP_LIN_HISTORIES");
        return env is not null && int.TryParse(env, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? Math.Max(Histories, n) : Histories;
    }

    private Summary RecordAndCheck(int seed, RegisterStore store, bool lossy, RecorderSettings settings)
    {
        var recorder = new HistoryRecorder(settings, store);
        Summary s = Check(seed, recorder, store.Map, lossy);
        output.WriteLine(s.ToString());
        foreach (string f in s.IllegalReports)
        {
            output.WriteLine(f);
        }

        return s;
    }

    private void AssertPassed(Summary s)
    {
        Assert.True(s.RecorderFailures.Count == 0, $"the recording failed: {s}\n" + string.Join("\n", s.RecorderFailures.Take(10)));
        Assert.True(s.Histories >= Histories, $"too few histories: {s}");
        Assert.True(s.IllegalHistories == 0, $"NOT LINEARIZABLE: {s}\n" + string.Join("\n", s.IllegalReports));
        Assert.True(s.UnknownHistories <= s.Histories * MaxUnknown, $"more than {MaxUnknown:P0} of the searches ran out of budget (unknown is never a pass): {s}");
        Assert.True(s.Overlapped > 0, $"no operation overlapped another thread's on the same key: the histories were sequential: {s}");
        Assert.True(s.OverlapShare >= MinOverlap, $"only {s.OverlapShare:P1} of the operations overlapped another thread's on the same key (at least {MinOverlap:P0} needed): {s}");
        output.WriteLine($"passed: {s.Histories} histories, {s.Operations} operations, {s.OverlapShare:P1} overlapping, 0 illegal, {s.UnknownHistories} unknown");
    }

    /// <summary>Records (unless <paramref name="record"/> is false: already recorded) and checks every key of every history.</summary>
    private static Summary Check(int seed, HistoryRecorder recorder, ByteMap map, bool lossy, bool record = true)
    {
        if (record)
        {
            recorder.Run();
        }

        var checker = new LinearizabilityChecker(StepBudget);
        var s = new Summary
        {
            Seed = seed,
            Lossy = lossy,
            RecordTime = recorder.Elapsed,
            RecorderFailures = [.. recorder.Failures],
            Stats = map.GetStatistics(),
            CompactCalls = recorder.CompactCalls,
            ClockSteps = recorder.ClockSteps,
        };
        var watch = Stopwatch.StartNew();
        foreach (History h in recorder.Histories.Take(recorder.CompletedHistories))
        {
            s.Histories++;
            bool illegal = false, unknown = false;
            for (int k = 0; k < h.KeyCount; k++)
            {
                Op[] ops = h.OpsOf(k);
                if (ops.Length == 0)
                {
                    continue;
                }

                s.Keys++;
                s.Operations += ops.Length;
                s.Overlapped += CountOverlapped(ops);
                Verdict v = checker.Check(ops, lossy);
                s.MaxSteps = Math.Max(s.MaxSteps, checker.LastSteps);
                if (v == Verdict.Illegal)
                {
                    illegal = true;
                    if (s.IllegalReports.Count < 3)
                    {
                        s.IllegalReports.Add(string.Create(CultureInfo.InvariantCulture, $"history {h.Index}, key id {h.KeyId(k)} ({(lossy ? "lossy" : "strict")} register), seed {seed}: not linearizable\n{checker.Describe()}"));
                    }
                }
                else if (v == Verdict.Unknown)
                {
                    unknown = true;
                    s.UnknownKeys++;
                }
                else if (lossy && checker.Check(ops, lossy: false) == Verdict.Illegal)
                {
                    s.NeededLoss++; // only a spontaneous delete (expiry, eviction) explains this key's history
                }
            }

            s.IllegalHistories += illegal ? 1 : 0;
            s.UnknownHistories += !illegal && unknown ? 1 : 0;
        }

        s.CheckTime = watch.Elapsed;
        var skew = new List<double>();
        var span = new List<double>();
        foreach (History h in recorder.Histories.Take(recorder.CompletedHistories))
        {
            long minStart = long.MaxValue, maxStart = long.MinValue;
            foreach (Op[] t in h.Threads)
            {
                minStart = Math.Min(minStart, t[0].Call);
                maxStart = Math.Max(maxStart, t[0].Call);
                span.Add((t[^1].Return - t[0].Call) * 1e6 / Stopwatch.Frequency);
            }

            skew.Add((maxStart - minStart) * 1e6 / Stopwatch.Frequency);
        }

        skew.Sort();
        span.Sort();
        if (skew.Count == 0)
        {
            return s;
        }

        s.Timing = string.Create(CultureInfo.InvariantCulture, $"start skew µs p10 {skew[skew.Count / 10]:F1} p50 {skew[skew.Count / 2]:F1} p90 {skew[skew.Count * 9 / 10]:F1}; thread span µs p10 {span[span.Count / 10]:F1} p50 {span[span.Count / 2]:F1} p90 {span[span.Count * 9 / 10]:F1}");
        return s;
    }

    /// <summary>Operations whose interval intersects that of another thread's operation on the same key.</summary>
    private static int CountOverlapped(Op[] ops)
    {
        int n = 0;
        for (int i = 0; i < ops.Length; i++)
        {
            for (int j = 0; j < ops.Length; j++)
            {
                if (ops[j].Thread != ops[i].Thread && ops[i].Call < ops[j].Return && ops[j].Call < ops[i].Return)
                {
                    n++;
                    break;
                }
            }
        }

        return n;
    }

    private sealed class Summary
    {
        public int Seed;
        public bool Lossy;
        public int Histories;
        public int Keys;
        public long Operations;
        public long Overlapped;
        public int IllegalHistories;
        public int UnknownHistories;
        public int UnknownKeys;
        public int NeededLoss;
        public long MaxSteps;
        public long CompactCalls;
        public long ClockSteps;
        public TimeSpan RecordTime;
        public TimeSpan CheckTime;
        public string Timing = "";
        public CMapStatistics Stats;
        public List<string> RecorderFailures = [];
        public List<string> IllegalReports = [];

        public double OverlapShare => Operations == 0 ? 0 : (double)Overlapped / Operations;

        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"seed {Seed}, {(Lossy ? "lossy" : "strict")} register: {Histories} histories, {Keys} key sub-histories, {Operations} operations, ");
            sb.Append(CultureInfo.InvariantCulture, $"{Overlapped} overlapping another thread's on the same key ({OverlapShare:P1}), {IllegalHistories} illegal, {UnknownHistories} unknown ({UnknownKeys} keys), ");
            if (Lossy)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{NeededLoss} keys explained only by a spontaneous delete, ");
            }

            sb.Append(CultureInfo.InvariantCulture, $"most search steps {MaxSteps}; recorded in {RecordTime.TotalSeconds:F2} s, checked in {CheckTime.TotalSeconds:F2} s; ");
            sb.Append(CultureInfo.InvariantCulture, $"Compact() calls {CompactCalls}, chunks compacted {Stats.ChunksCompacted}, bytes moved {Stats.CompactionBytesMoved}, evictions {Stats.Evictions}, expirations {Stats.Expirations}, clock steps {ClockSteps}");
            sb.Append("; ").Append(Timing);
            if (RecorderFailures.Count > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"; {RecorderFailures.Count} recorder failure(s), first: {RecorderFailures[0]}");
            }

            return sb.ToString();
        }
    }
}
