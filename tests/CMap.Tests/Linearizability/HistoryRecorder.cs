using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using CMap.Tests.Support;

namespace CMap.Tests.Linearizability;

/// <summary>
/// Records concurrent histories on a few keys: the workers meet at a <see cref="SpinBarrier"/>, run their planned
/// operations on the history's fresh keys with a Stopwatch read before each call and after each return, and meet
/// again for the next history. A background thread meets them too and, while each history runs, calls
/// <see cref="ByteMap.Compact"/> in a loop (and, for expiry, advances the map's clock), so entries move and expire
/// under the operations. Worker 0 deletes the previous history's keys after its own operations, so the index and the
/// log churn under the next history's operations too. Some callback and buffer-writer operations are slow consumers
/// (<see cref="Op.Slow"/>): on two shared cores, these are what lets other threads' operations run while one is in
/// progress. Plans come from the seed alone; only the interleaving is the machine's.
/// </summary>
internal sealed partial class HistoryRecorder
{
    public const int MaxKeys = 4;

    /// <summary>Value lengths per symbol: empty (a value, not absence), short, and two that cross the small buffer; 700 bytes exceeds half a 1 KiB chunk's payload, so it lives in an oversize block.</summary>
    public static readonly int[] Lengths = [0, 11, 200, 700];

    /// <summary>The span forms' small destination: symbols A and B fit, C and D report only their length.</summary>
    public const int SmallBufferSize = 16;

    public const int LargeBufferSize = 1024;

    private static readonly TimeSpan s_timeout = StressHarness.WaitTimeout;

    private static readonly (OpKind Kind, int Weight)[] s_weights =
    [
        (OpKind.Insert, 3), (OpKind.TryAdd, 2), (OpKind.GetOrInsert, 2), (OpKind.GetOrInsertWriter, 2),
        (OpKind.Get, 3), (OpKind.TryGetSpan, 2), (OpKind.TryGetWriter, 2), (OpKind.TryGetValue, 1), (OpKind.TryRead, 3),
        (OpKind.ContainsKey, 1), (OpKind.Refresh, 1),
        (OpKind.Delete, 2), (OpKind.GetAndDelete, 1), (OpKind.TryGetAndDeleteSpan, 1), (OpKind.TryGetAndDeleteWriter, 2), (OpKind.TryRemove, 1),
        (OpKind.Swap, 2), (OpKind.TrySwapSpan, 1), (OpKind.TrySwapWriter, 2),
        (OpKind.CompareAndSwap, 3), (OpKind.CompareAndDelete, 2),
    ];

    private readonly RecorderSettings _settings;
    private readonly RegisterStore _store;
    private readonly ConcurrentQueue<string> _failures = new();
    private long _compactCalls;
    private long _clockSteps;
    private long _progress;
    private Barrier? _start;

    /// <summary>Per history, how many workers finished their operations (the background thread steps until all have).</summary>
    private int[] _done = [];

    public HistoryRecorder(RecorderSettings settings, RegisterStore store)
    {
        if (settings.MaxKeys > MaxKeys || settings.Threads * settings.MaxOpsPerThread > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), "at most 4 keys, and at most 64 operations per key");
        }

        _settings = settings;
        _store = store;
        Histories = Plan(settings);
    }

    public IReadOnlyList<History> Histories { get; }

    /// <summary>Exceptions, timeouts and values that match nothing written (also illegal to the checker).</summary>
    public IReadOnlyCollection<string> Failures => _failures;

    public long CompactCalls => Interlocked.Read(ref _compactCalls);

    public long ClockSteps => Interlocked.Read(ref _clockSteps);

    public TimeSpan Elapsed { get; private set; }

    /// <summary>The histories every worker finished (all of them, unless the run failed): only these are checked.</summary>
    public int CompletedHistories { get; private set; }

    /// <summary>The value of symbol <paramref name="symbol"/> for key <paramref name="keyId"/>: its key id first, so another key's value never matches.</summary>
    public static void FillValue(Span<byte> destination, int keyId, int symbol)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (byte)((i * (2 * symbol + 3)) + symbol + 0x40);
        }

        if (destination.Length >= 4)
        {
            BinaryPrimitives.WriteInt32LittleEndian(destination, keyId);
        }
    }

    public static byte[] KeyBytes(int keyId) => StressValue.Key(keyId);

    /// <summary>Runs every history; returns when all are recorded (or the run failed; see <see cref="Failures"/>).</summary>
    public void Run()
    {
        int workers = _settings.Threads;
        int participants = workers + (_settings.CompactInLoop || _settings.Clock is not null ? 1 : 0);
        var spin = new SpinBarrier(participants, s_timeout, _settings.PureSpin);
        _done = new int[Histories.Count];
        var background = new List<Thread>();
        bool compact = _settings.CompactInLoop;
        Microsoft.Extensions.Time.Testing.FakeTimeProvider? clock = _settings.Clock;
        if (compact || clock is not null)
        {
            // One thread for both: on two cores every extra participant of the barrier delays each history's start.
            background.Add(new Thread(() => Guard("background", spin, () => Background(spin, () =>
            {
                if (compact)
                {
                    _store.Map.Compact();
                    Interlocked.Increment(ref _compactCalls);
                }

                if (clock is not null)
                {
                    clock.Advance(_settings.ClockStep);
                    Interlocked.Increment(ref _clockSteps);
                }
            }))) { IsBackground = true, Name = "lin-background" });
        }

        var threads = new List<Thread>();
        for (int t = 0; t < workers; t++)
        {
            int id = t;
            threads.Add(new Thread(() => Guard($"worker {id}", spin, () => Work(id, spin))) { IsBackground = true, Name = $"lin-worker-{id}" });
        }

        using var start = new Barrier(threads.Count + background.Count + 1);
        _start = start;
        var clockTime = Stopwatch.StartNew();
        foreach (Thread t in background)
        {
            t.Start();
        }

        foreach (Thread t in threads)
        {
            t.Start();
        }

        if (!start.SignalAndWait(s_timeout))
        {
            Fail("main: the start barrier timed out");
            spin.Abort();
        }

        // A hang is a lack of progress, not a long run: wait as long as histories keep completing, and fail once none
        // has for the whole timeout.
        long lastProgress = -1;
        var sinceProgress = Stopwatch.StartNew();
        foreach (Thread t in threads)
        {
            while (!t.Join(TimeSpan.FromMilliseconds(250)))
            {
                long progress = Interlocked.Read(ref _progress);
                if (progress != lastProgress)
                {
                    lastProgress = progress;
                    sinceProgress.Restart();
                }
                else if (sinceProgress.Elapsed > s_timeout)
                {
                    Fail($"{t.Name} made no progress for {s_timeout.TotalSeconds} s (hang or deadlock) with {progress} history parts done by the workers");
                    spin.Abort();
                    break;
                }
            }
        }

        foreach (Thread t in background)
        {
            if (!t.Join(s_timeout))
            {
                Fail($"{t.Name} did not finish within {s_timeout.TotalSeconds} s of the workers");
            }
        }

        CompletedHistories = 0;
        while (CompletedHistories < _done.Length && Volatile.Read(ref _done[CompletedHistories]) == workers)
        {
            CompletedHistories++;
        }

        Elapsed = clockTime.Elapsed;
        _start = null;
    }

    /// <summary>
    /// The background thread's loop: it meets the workers at every history's barrier and then takes steps while that
    /// history's workers are not all done (at most <see cref="RecorderSettings.MaxBackgroundStepsPerHistory"/>).
    /// Running free instead, it would hold one of two cores for good, and the workers would rarely run at once.
    /// </summary>
    private void Background(SpinBarrier spin, Action step)
    {
        for (int h = 0; h < Histories.Count; h++)
        {
            spin.SignalAndWait();
            int steps = 0;
            do
            {
                step();
            }
            while (++steps < _settings.MaxBackgroundStepsPerHistory && Volatile.Read(ref _done[h]) < _settings.Threads && !spin.Aborted);
        }
    }

    private void Fail(string message)
    {
        if (_failures.Count < 50)
        {
            _failures.Enqueue(message);
        }
    }

    private void Guard(string name, SpinBarrier spin, Action body)
    {
        try
        {
            if (!_start!.SignalAndWait(s_timeout))
            {
                Fail($"{name}: the start barrier timed out");
                spin.Abort();
                return;
            }

            body();
        }
        catch (OperationCanceledException) when (spin.Aborted)
        {
            // Another participant failed first and said why.
        }
#pragma warning disable CA1031 // A recording thread must report every exception, not crash the test host.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Fail($"{name}: unexpected exception {e}");
            spin.Abort();
        }
    }

    private static History[] Plan(RecorderSettings s)
    {
        int total = 0;
        foreach ((OpKind _, int w) in s_weights)
        {
            total += w;
        }

        var histories = new History[s.Histories];
        var rng = new Random(s.Seed);
        for (int h = 0; h < s.Histories; h++)
        {
            int keys = rng.Next(s.MinKeys, s.MaxKeys + 1);
            var threads = new Op[s.Threads][];
            for (int t = 0; t < s.Threads; t++)
            {
                var ops = new Op[rng.Next(s.MinOpsPerThread, s.MaxOpsPerThread + 1)];
                for (int i = 0; i < ops.Length; i++)
                {
                    int pick = rng.Next(total);
                    OpKind kind = OpKind.Insert;
                    foreach ((OpKind k, int w) in s_weights)
                    {
                        if (pick < w)
                        {
                            kind = k;
                            break;
                        }

                        pick -= w;
                    }

                    ops[i] = new Op
                    {
                        Kind = kind,
                        Key = (byte)rng.Next(keys),
                        Thread = (byte)t,
                        Arg = (sbyte)rng.Next(RegisterModel.Symbols),
                        Expected = (sbyte)rng.Next(RegisterModel.Symbols),
                        SmallBuffer = rng.Next(3) == 0,
                        Expiry = s.Expiry ? (byte)Math.Max(0, rng.Next(4) - 1) : (byte)0,
                        ExpiryMillis = (byte)(1 << rng.Next(4)),
                        Value = RegisterModel.Absent,
                        Slow = s.SlowConsumers && kind is OpKind.TryRead or OpKind.TryGetWriter or OpKind.GetOrInsertWriter or OpKind.TrySwapWriter or OpKind.TryGetAndDeleteWriter && rng.Next(3) != 0,
                    };
                }

                threads[t] = ops;
            }

            histories[h] = new History(h, keys, threads);
        }

        return histories;
    }

    /// <summary>One worker: every history's operations of thread <paramref name="id"/>.</summary>
    private void Work(int id, SpinBarrier spin)
    {
        var w = new Worker(_store, _settings.Expiry);
        var previousKeys = new byte[MaxKeys][];
        int previousCount = 0;
        foreach (History h in Histories)
        {
            w.Prepare(h);
            spin.SignalAndWait();
            Op[] ops = h.Threads[id];
            for (int i = 0; i < ops.Length; i++)
            {
                string? problem = w.Execute(ref ops[i]);
                if (problem is not null)
                {
                    Fail(string.Create(CultureInfo.InvariantCulture, $"history {h.Index}, key {h.KeyId(ops[i].Key)}: {ops[i]}: {problem}"));
                }
            }

            if (id == 0 && _settings.DeletePreviousKeys)
            {
                // Every worker has passed this history's barrier, so the previous history is over: its keys go,
                // concurrently with this history's operations on other keys (tombstones, index shrinks).
                for (int k = 0; k < previousCount; k++)
                {
                    _store.Map.Delete(previousKeys[k]);
                }

                previousCount = h.KeyCount;
                for (int k = 0; k < h.KeyCount; k++)
                {
                    previousKeys[k] = w.Keys[k];
                }
            }

            Interlocked.Increment(ref _done[h.Index]);
            Interlocked.Increment(ref _progress);
        }
    }
}
