using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using CMap.Bench;
using CMap.Bench.Stores;
using HdrHistogram;

namespace CMap.Compare;

/// <summary>
/// Measures one store in one round inside its own process (started by <see cref="Coordinator"/> with --worker), so
/// that the garbage of one store never bills another, and writes a <see cref="StoreResult"/> as JSON.
/// </summary>
internal sealed class Worker
{
    /// <summary>A timed phase is flagged when its load passes the core count by more than this (cores).</summary>
    public const double LoadTolerance = 0.25;

    /// <summary>The latency phase is flagged when its max exceeds this many times its GC pause, plus <see cref="StallSlackMilliseconds"/>.</summary>
    public const double StallFactor = 4;

    public const double StallSlackMilliseconds = 1;

    /// <summary>Operations between two looks at the stop signal.</summary>
    private const int Batch = 64;

    /// <summary>Loaded keys read back and compared before anything is timed.</summary>
    private const int VerifiedKeys = 1000;

    private readonly CompareOptions _options;
    private readonly string _storeName;
    private readonly WorkerProgress _progress = new();
    private int _inducedCollections;

    private Worker(CompareOptions options, string storeName)
    {
        _options = options;
        _storeName = storeName;
    }

    private double WarmupSeconds => Math.Min(1.0, _options.DurationSeconds / 4);

    public static int Run(CompareOptions options)
    {
        string store = options.WorkerStore ?? throw new ArgumentException("Not a worker invocation.", nameof(options));
        string path = options.ResultPath ?? throw new ArgumentException("A worker needs a result path.", nameof(options));
        StoreResult result = new Worker(options, store).Measure();
        File.WriteAllText(path, JsonSerializer.Serialize(result, ResultJsonContext.Default.StoreResult));
        return result.Error is null ? 0 : 1;
    }

    private StoreResult Measure()
    {
        var result = new StoreResult { Store = _storeName, Round = _options.Round };
        long started = Stopwatch.GetTimestamp();
        GcSnapshot gcStart = GcSnapshot.Take();
        try
        {
            _progress.Report("keys", 0);
            var keys = new KeySet(_options.Entries, _options.KeySize, _options.ValueSize, _options.Seed);
            int readers = Math.Max(1, _options.Threads - 1);
            FullCollect();
            long heapBefore = GC.GetTotalMemory(false);
            long workingSetBefore = Environment.WorkingSet;

            long createStart = Stopwatch.GetTimestamp();
            using IStore store = StoreCatalog.Create(_storeName, new StoreShape(keys.Count, keys.KeySize, keys.ValueSize, _options.Seed));
            double createMs = Stopwatch.GetElapsedTime(createStart).TotalMilliseconds;
            result.Configuration = store.Configuration;
            var sessions = new IStoreSession[Math.Max(_options.Threads, readers + 1)];
            for (int i = 0; i < sessions.Length; i++)
            {
                sessions[i] = store.OpenSession();
            }

            result.Load = Load(sessions[0], keys, createMs);
            result.ForcedGc = ForcedCollections();
            result.Memory = MeasureMemory(store, keys, heapBefore, workingSetBefore);

            Verify(sessions[0], keys);
            result.Get = Throughput("get", (i, stop) => GetLoop(sessions[i], keys, PhaseSeed(1, i), stop));
            result.Insert = Throughput("insert", (i, stop) => InsertLoop(sessions[i], keys, PhaseSeed(2, i), stop));
            result.Mixed = Throughput("mixed 90/10", (i, stop) => MixedLoop(sessions[i], keys, PhaseSeed(3, i), stop));
            result.Latency = Latency(sessions, keys, readers, (long)(1e9 * _options.Threads / result.Get.OpsPerSecond));
        }
#pragma warning disable CA1031 // Any failure becomes the store's reported error; the other stores still run.
        catch (Exception e)
#pragma warning restore CA1031
        {
            result.Error = $"{e.GetType().Name}: {e.Message}";
        }

        GcDelta gc = GcSnapshot.Take().Since(gcStart);
        result.Gc = new GcResult(gc.Gen0, gc.Gen1, gc.Gen2, _inducedCollections, gc.PauseMilliseconds);
        result.WorkerSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        result.PeakWorkingSetBytes = Machine.PeakWorkingSetBytes();
        FlagOverload(result);
        return result;
    }

    /// <summary>
    /// Notes why figures of this worker may be the machine's rather than the store's: timed phases whose threads had
    /// to share the CPUs with other work (load above the core count), and a latency maximum far above every GC pause
    /// of its phase (a reader the OS descheduled: the max and the corrected percentiles are then the scheduler's).
    /// </summary>
    private static void FlagOverload(StoreResult result)
    {
        (string Phase, CpuLoad Cpu)[] loaded = new[] { ("get", result.Get?.Cpu), ("insert", result.Insert?.Cpu), ("mixed", result.Mixed?.Cpu), ("latency", result.Latency?.Cpu) }
            .Where(p => p.Item2 is { } c && c.Load > c.Cores + LoadTolerance)
            .Select(p => (p.Item1, p.Item2!))
            .ToArray();
        if (loaded.Length > 0)
        {
            CpuLoad worst = loaded.MaxBy(p => p.Cpu.Load).Cpu;
            result.Overload.Add(Format.Invariant(
                $"overloaded: load up to {worst.Load:0.00} on {worst.Cores} cores in the {string.Join(", ", loaded.Select(p => p.Phase))} phase{(loaded.Length == 1 ? "" : "s")} ({worst.OwnThreads} busy threads of this run; other processes took {worst.OtherCores:0.00} cores, the hypervisor {worst.StealCores:0.00})"));
        }

        if (result.Latency is { } l)
        {
            double maxMs = l.MaxNanoseconds / 1e6;
            double gcMs = l.Gc.PauseMilliseconds;
            if (maxMs > (StallFactor * gcMs) + StallSlackMilliseconds)
            {
                result.Overload.Add(Format.Invariant(
                    $"OS stall: max Get {Format.Nanoseconds(l.MaxNanoseconds)} against {Format.Milliseconds(gcMs)} of GC pause in the whole latency phase, so a reader was descheduled; that max and the corrected percentiles are the scheduler's, not the store's"));
            }
        }
    }

    private LoadResult Load(IStoreSession session, KeySet keys, double createMs)
    {
        int n = keys.Count;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < n; i++)
        {
            session.Insert(keys.Key(i), keys.Value(i));
            if ((i & 0xFFFF) == 0)
            {
                _progress.Report("load", (double)i / n);
            }
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return new LoadResult(createMs, seconds, n / seconds);
    }

    /// <summary>
    /// The cost of a full GC with the data resident: after settling collections, <see cref="CompareOptions.GcSamples"/>
    /// forced full blocking compacting collections, each timed with <see cref="Stopwatch"/>; the figure is their median.
    /// </summary>
    private ForcedGcResult ForcedCollections()
    {
        _progress.Report("forced GC", 0);
        FullCollect();
        double[] samples = new double[_options.GcSamples];
        for (int i = 0; i < samples.Length; i++)
        {
            long startTicks = Stopwatch.GetTimestamp();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            samples[i] = Stopwatch.GetElapsedTime(startTicks).TotalMilliseconds;
            _inducedCollections++;
            _progress.Report("forced GC", (i + 1.0) / samples.Length);
        }

        Spread s = Metrics.SpreadOf(samples)!;
        return new ForcedGcResult(samples, s.Median, s.Min, s.Max);
    }

    private MemoryResult MeasureMemory(IStore store, KeySet keys, long heapBefore, long workingSetBefore)
    {
        long heapAfter = GC.GetTotalMemory(false);
        long workingSetAfter = Environment.WorkingSet;
        StoreFootprint? footprint = store.Footprint();
        long? native = footprint?.NativeBytes;
        double n = keys.Count;
        double payload = keys.KeySize + keys.ValueSize;
        return new MemoryResult(
            heapBefore,
            heapAfter,
            workingSetBefore,
            workingSetAfter,
            native,
            ((workingSetAfter - workingSetBefore) / n) - payload,
            ((heapAfter - heapBefore) / n) - payload,
            (native / n) - payload,
            ((heapAfter - heapBefore + (native ?? 0)) / n) - payload,
            footprint?.Detail);
    }

    /// <summary>Reads back a sample of the loaded keys, so a store that drops or garbles data fails loudly.</summary>
    private void Verify(IStoreSession session, KeySet keys)
    {
        _progress.Report("verify", 0);
        byte[] buffer = new byte[keys.ValueSize];
        var random = new FastRandom(PhaseSeed(0, 0));
        for (int i = 0; i < VerifiedKeys; i++)
        {
            int index = random.NextIndex(keys.Count);
            if (!session.TryGet(keys.Key(index), buffer, out int written)
                || !buffer.AsSpan(0, written).SequenceEqual(keys.Value(index)))
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"Verification failed: loaded key #{index} did not read back its value."));
            }
        }
    }

    private ThroughputResult Throughput(string label, Func<int, StopSignal, ThreadCounts> body)
    {
        int threads = _options.Threads;
        TimedPhase.Run($"{label} (warm-up)", threads, WarmupSeconds, _progress, body);
        PhaseOutcome o = TimedPhase.Run(label, threads, _options.DurationSeconds, _progress, body);
        return new ThroughputResult(threads, o.Seconds, o.Operations, o.Misses, o.OpsPerSecond, o.Gc, o.Cpu);
    }

    /// <param name="expectedInterval">Nanoseconds a get takes on one thread without a writer: the pace of the correction for coordinated omission.</param>
    private LatencyResult Latency(IStoreSession[] sessions, KeySet keys, int readers, long expectedInterval)
    {
        var measured = new LongHistogram[readers];
        var corrected = new LongHistogram[readers];
        for (int i = 0; i < readers; i++)
        {
            measured[i] = Bench.Latency.NewHistogram();
            corrected[i] = Bench.Latency.NewHistogram();
        }

        PhaseOutcome o = TimedPhase.Run(
            "get latency under churn",
            readers + 1,
            _options.DurationSeconds,
            _progress,
            (i, stop) => i < readers
                ? TimedGetLoop(sessions[i], keys, measured[i], corrected[i], expectedInterval, PhaseSeed(4, i), stop)
                : ChurnLoop(sessions[i], keys, PhaseSeed(4, i), stop));

        LongHistogram all = Bench.Latency.NewHistogram();
        LongHistogram allCorrected = Bench.Latency.NewHistogram();
        for (int i = 0; i < readers; i++)
        {
            all.Add(measured[i]);
            allCorrected.Add(corrected[i]);
        }

        ThreadCounts writer = o.PerThread[readers];
        long reads = o.Operations - writer.Operations;
        return new LatencyResult(
            readers,
            o.Seconds,
            reads,
            o.Misses,
            reads / o.Seconds,
            writer.Operations,
            writer.Operations / o.Seconds,
            all.GetMean(),
            all.GetValueAtPercentile(50),
            all.GetValueAtPercentile(90),
            all.GetValueAtPercentile(99),
            all.GetValueAtPercentile(99.9),
            all.GetMaxValue(),
            expectedInterval,
            allCorrected.GetValueAtPercentile(50),
            allCorrected.GetValueAtPercentile(90),
            allCorrected.GetValueAtPercentile(99),
            allCorrected.GetValueAtPercentile(99.9),
            o.Gc,
            o.Cpu);
    }

    /// <summary>A distinct, fixed seed for each phase and thread.</summary>
    private ulong PhaseSeed(int phase, int thread) => FastRandom.Mix(_options.Seed ^ (((ulong)phase << 32) | (uint)thread));

    private void FullCollect()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        _inducedCollections += 2;
    }

    private static ThreadCounts GetLoop(IStoreSession session, KeySet keys, ulong seed, StopSignal stop)
    {
        var random = new FastRandom(seed);
        byte[] buffer = new byte[keys.ValueSize];
        int n = keys.Count;
        long ops = 0;
        long misses = 0;
        while (!stop.Stopped)
        {
            for (int j = 0; j < Batch; j++)
            {
                if (!session.TryGet(keys.Key(random.NextIndex(n)), buffer, out _))
                {
                    misses++;
                }
            }

            ops += Batch;
        }

        return new ThreadCounts(ops, misses);
    }

    private static ThreadCounts InsertLoop(IStoreSession session, KeySet keys, ulong seed, StopSignal stop)
    {
        var random = new FastRandom(seed);
        int n = keys.Count;
        long ops = 0;
        while (!stop.Stopped)
        {
            for (int j = 0; j < Batch; j++)
            {
                session.Insert(keys.Key(random.NextIndex(n)), keys.Value((int)random.Next()));
            }

            ops += Batch;
        }

        return new ThreadCounts(ops, 0);
    }

    private static ThreadCounts MixedLoop(IStoreSession session, KeySet keys, ulong seed, StopSignal stop)
    {
        var random = new FastRandom(seed);
        byte[] buffer = new byte[keys.ValueSize];
        int n = keys.Count;
        long ops = 0;
        long misses = 0;
        while (!stop.Stopped)
        {
            for (int j = 0; j < Batch; j++)
            {
                ReadOnlySpan<byte> key = keys.Key(random.NextIndex(n));
                ulong r = random.Next();
                if (r % 10 == 0)
                {
                    session.Insert(key, keys.Value((int)(r >> 32)));
                }
                else if (!session.TryGet(key, buffer, out _))
                {
                    misses++;
                }
            }

            ops += Batch;
        }

        return new ThreadCounts(ops, misses);
    }

    /// <summary>A reader of the latency phase: times every get, into a plain and a coordinated-omission-corrected histogram.</summary>
    private static ThreadCounts TimedGetLoop(
        IStoreSession session, KeySet keys, LongHistogram measured, LongHistogram corrected, long expectedInterval, ulong seed, StopSignal stop)
    {
        var random = new FastRandom(seed);
        byte[] buffer = new byte[keys.ValueSize];
        int n = keys.Count;
        long ops = 0;
        long misses = 0;
        while (!stop.Stopped)
        {
            for (int j = 0; j < Batch; j++)
            {
                ReadOnlySpan<byte> key = keys.Key(random.NextIndex(n));
                long start = Stopwatch.GetTimestamp();
                bool found = session.TryGet(key, buffer, out _);
                long nanoseconds = Bench.Latency.Since(start);
                measured.RecordValue(nanoseconds);
                corrected.RecordValueWithExpectedInterval(nanoseconds, expectedInterval);
                if (!found)
                {
                    misses++;
                }
            }

            ops += Batch;
        }

        return new ThreadCounts(ops, misses);
    }

    /// <summary>The writer of the latency phase: half overwrites, half deletes each followed by a re-insert.</summary>
    private static ThreadCounts ChurnLoop(IStoreSession session, KeySet keys, ulong seed, StopSignal stop)
    {
        var random = new FastRandom(seed);
        int n = keys.Count;
        long mutations = 0;
        while (!stop.Stopped)
        {
            for (int j = 0; j < Batch; j++)
            {
                ReadOnlySpan<byte> key = keys.Key(random.NextIndex(n));
                ulong r = random.Next();
                if ((r & 1) == 0)
                {
                    session.Delete(key);
                    mutations++;
                }

                session.Insert(key, keys.Value((int)(r >> 32)));
                mutations++;
            }
        }

        return new ThreadCounts(mutations, 0);
    }
}
