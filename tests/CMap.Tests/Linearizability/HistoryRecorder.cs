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

/// <summary>One history's plan and, once run, its record: per thread, the operations in program order.</summary>
internal sealed class History(int index, int keyCount, Op[][] threads)
{
    public int Index { get; } = index;

    public int KeyCount { get; } = keyCount;

    public Op[][] Threads { get; } = threads;

    /// <summary>The global id of key slot <paramref name="k"/>: fresh keys per history, so each starts absent.</summary>
    public int KeyId(int k) => (Index * HistoryRecorder.MaxKeys) + k;

    /// <summary>Key <paramref name="k"/>'s operations, thread by thread in program order (what the checker needs).</summary>
    public Op[] OpsOf(int k)
    {
        var ops = new List<Op>();
        foreach (Op[] thread in Threads)
        {
            foreach (Op op in thread)
            {
                if (op.Key == k)
                {
                    ops.Add(op);
                }
            }
        }

        return [.. ops];
    }
}

/// <summary>What the recorder is asked to do.</summary>
internal sealed record RecorderSettings
{
    public required int Seed { get; init; }

    public required int Histories { get; init; }

    public int Threads { get; init; } = 4;

    /// <summary>Worker 0 deletes each history's keys once the next one has started (off for a budget run, whose map must fill up to evict).</summary>
    public bool DeletePreviousKeys { get; init; } = true;

    public int MinOpsPerThread { get; init; } = 6;

    public int MaxOpsPerThread { get; init; } = 12;

    public int MinKeys { get; init; } = 2;

    public int MaxKeys { get; init; } = 4;

    /// <summary>Writes carry expiry (absolute or sliding, a few milliseconds of the map's clock) half of the time.</summary>
    public bool Expiry { get; init; }

    /// <summary>A background thread calls <see cref="ByteMap.Compact"/> in a loop while the histories run.</summary>
    public bool CompactInLoop { get; init; } = true;

    /// <summary>Two thirds of the callback and buffer-writer operations are slow consumers (<see cref="Op.Slow"/>).</summary>
    public bool SlowConsumers { get; init; } = true;

    /// <summary>The background thread takes at most this many steps per history (then waits for the next one).</summary>
    public int MaxBackgroundStepsPerHistory { get; init; } = 32;

    /// <summary>How long a barrier waiter spins without yielding its core before it starts yielding.</summary>
    public TimeSpan PureSpin { get; init; } = TimeSpan.FromMilliseconds(0.2);

    /// <summary>When set, the background thread also advances this clock by <see cref="ClockStep"/> at each of its steps.</summary>
    public Microsoft.Extensions.Time.Testing.FakeTimeProvider? Clock { get; init; }

    public TimeSpan ClockStep { get; init; } = TimeSpan.FromMilliseconds(0.25);
}

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
internal sealed class HistoryRecorder
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

    /// <summary>A buffer writer that yields its thread before it hands out memory: the map then copies the value after the yield.</summary>
    private sealed class SlowWriter(ArrayBufferWriter<byte> inner) : IBufferWriter<byte>
    {
        public void Advance(int count) => inner.Advance(count);

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Thread.Yield();
            return inner.GetMemory(sizeHint);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Thread.Yield();
            return inner.GetSpan(sizeHint);
        }
    }

    /// <summary>A worker's buffers, reused across histories; executes one operation and turns its results into symbols.</summary>
    private sealed class Worker
    {
        private readonly RegisterStore _store;
        private readonly ByteMap _map;
        private readonly bool _expiry;
        private readonly byte[][][] _values = new byte[MaxKeys][][];
        private readonly byte[] _buffer = new byte[LargeBufferSize];
        private readonly ArrayBufferWriter<byte> _writer = new(LargeBufferSize);
        private readonly SlowWriter _slowWriter;
        private bool _slow;
        private int _readKey;
        private sbyte _readSymbol;

        public Worker(RegisterStore store, bool expiry)
        {
            _store = store;
            _map = store.Map;
            _expiry = expiry;
            _slowWriter = new SlowWriter(_writer);
            for (int k = 0; k < MaxKeys; k++)
            {
                _values[k] = new byte[RegisterModel.Symbols][];
                for (int s = 0; s < RegisterModel.Symbols; s++)
                {
                    _values[k][s] = new byte[Lengths[s]];
                }
            }
        }

        public byte[][] Keys { get; } = new byte[MaxKeys][];

        /// <summary>The history's keys and the values it may write for them (fresh arrays for keys, reused for values).</summary>
        public void Prepare(History h)
        {
            for (int k = 0; k < h.KeyCount; k++)
            {
                int keyId = h.KeyId(k);
                Keys[k] = KeyBytes(keyId);
                for (int s = 0; s < RegisterModel.Symbols; s++)
                {
                    FillValue(_values[k][s], keyId, s);
                }
            }
        }

        /// <summary>The symbol of <paramref name="bytes"/> as a value of key slot <paramref name="k"/>, or <see cref="RegisterModel.Garbage"/>.</summary>
        public sbyte Decode(ReadOnlySpan<byte> bytes, int k)
        {
            for (int s = 0; s < RegisterModel.Symbols; s++)
            {
                if (bytes.Length == Lengths[s])
                {
                    return bytes.SequenceEqual(_values[k][s]) ? (sbyte)s : RegisterModel.Garbage;
                }
            }

            return RegisterModel.Garbage;
        }

        private static sbyte SymbolOfLength(int length)
        {
            for (int s = 0; s < RegisterModel.Symbols; s++)
            {
                if (Lengths[s] == length)
                {
                    return (sbyte)s;
                }
            }

            return RegisterModel.Garbage;
        }

        /// <summary>
        /// A span form's result as a symbol: the copied bytes when <paramref name="copied"/>, else the length it
        /// reported (which must exceed the destination, or be 0 when there was no value).
        /// </summary>
        private sbyte SpanResult(bool present, int length, int destination, int k)
        {
            if (!present)
            {
                return length == 0 ? RegisterModel.Absent : RegisterModel.Garbage;
            }

            return length <= destination ? Decode(_buffer.AsSpan(0, length), k) : SymbolOfLength(length);
        }

        /// <summary>TryGet into a span: true copies (so the length fits); false reports 0 (absent) or a length past the destination.</summary>
        private sbyte TryGetResult(bool copied, int length, int destination, int k)
        {
            if (copied)
            {
                return length <= destination ? Decode(_buffer.AsSpan(0, length), k) : RegisterModel.Garbage;
            }

            return length == 0 ? RegisterModel.Absent : length > destination ? SymbolOfLength(length) : RegisterModel.Garbage;
        }

        private sbyte ArrayResult(byte[]? value, int k) => value is null ? RegisterModel.Absent : Decode(value, k);

        private sbyte WriterResult(bool present, int k) =>
            present ? Decode(_writer.WrittenSpan, k) : _writer.WrittenCount == 0 ? RegisterModel.Absent : RegisterModel.Garbage;

        /// <summary>Runs <paramref name="op"/>, timestamps it and records its results. Returns what is wrong beyond the model's reach (garbage), or null.</summary>
        public string? Execute(ref Op op)
        {
            int k = op.Key;
            ReadOnlySpan<byte> key = Keys[k];
            byte[] arg = _values[k][op.Arg];
            byte[] expected = _values[k][op.Expected];
            CMapEntryOptions options = op.Expiry switch
            {
                1 => CMapEntryOptions.ExpireAfter(TimeSpan.FromMilliseconds(op.ExpiryMillis)),
                2 => CMapEntryOptions.Sliding(TimeSpan.FromMilliseconds(op.ExpiryMillis)),
                _ => default,
            };
            int destination = op.SmallBuffer ? SmallBufferSize : LargeBufferSize;
            Span<byte> buffer = _buffer.AsSpan(0, destination);
            _writer.ResetWrittenCount();
            IBufferWriter<byte> writer = op.Slow ? _slowWriter : _writer;
            _slow = op.Slow;
            byte[]? array = null;
            bool flag = false;
            int length = 0;

            op.Call = Stopwatch.GetTimestamp();
            switch (op.Kind)
            {
                case OpKind.Insert:
                    flag = _expiry ? _map.Insert(key, arg, options) : _map.Insert(key, arg);
                    break;
                case OpKind.TryAdd:
                    flag = _expiry ? _map.TryAdd(key, arg, options) : _map.TryAdd(key, arg);
                    break;
                case OpKind.GetOrInsert:
                    array = _expiry ? _map.GetOrInsert(key, arg, options, out flag) : _map.GetOrInsert(key, arg, out flag);
                    break;
                case OpKind.GetOrInsertWriter:
                    flag = _expiry ? _map.GetOrInsert(key, arg, writer, options) : _map.GetOrInsert(key, arg, writer);
                    break;
                case OpKind.Get:
                    array = _store.Get(key);
                    break;
                case OpKind.TryGetSpan:
                    flag = _map.TryGet(key, buffer, out length);
                    break;
                case OpKind.TryGetWriter:
                    flag = _map.TryGet(key, writer);
                    break;
                case OpKind.TryGetValue:
                    flag = _map.TryGetValue(key, out array);
                    break;
                case OpKind.TryRead:
                    _readKey = k;
                    _readSymbol = RegisterModel.Garbage; // stays so if TryRead says found without calling back
                    flag = _map.TryRead(key, this, static (span, w) =>
                    {
                        if (w._slow)
                        {
                            Thread.Yield(); // then read the span: it must still hold the value [E2]
                        }

                        w._readSymbol = w.Decode(span, w._readKey);
                    });
                    break;
                case OpKind.ContainsKey:
                    flag = _map.ContainsKey(key);
                    break;
                case OpKind.Refresh:
                    flag = _map.Refresh(key);
                    break;
                case OpKind.Delete:
                    flag = _store.Delete(key);
                    break;
                case OpKind.GetAndDelete:
                    array = _map.GetAndDelete(key);
                    break;
                case OpKind.TryGetAndDeleteSpan:
                    flag = _map.TryGetAndDelete(key, buffer, out length);
                    break;
                case OpKind.TryGetAndDeleteWriter:
                    flag = _map.TryGetAndDelete(key, writer);
                    break;
                case OpKind.TryRemove:
                    flag = _map.TryRemove(key, out array);
                    break;
                case OpKind.Swap:
                    array = _expiry ? _map.Swap(key, arg, options) : _map.Swap(key, arg);
                    break;
                case OpKind.TrySwapSpan:
                    flag = _expiry ? _map.TrySwap(key, arg, buffer, out length, options) : _map.TrySwap(key, arg, buffer, out length);
                    break;
                case OpKind.TrySwapWriter:
                    flag = _expiry ? _map.TrySwap(key, arg, writer, options) : _map.TrySwap(key, arg, writer);
                    break;
                case OpKind.CompareAndSwap:
                    flag = _expiry ? _map.CompareAndSwap(key, expected, arg, options) : _map.CompareAndSwap(key, expected, arg);
                    break;
                case OpKind.CompareAndDelete:
                    flag = _map.CompareAndDelete(key, expected);
                    break;
                default:
                    throw new InvalidOperationException(op.Kind.ToString());
            }

            op.Return = Stopwatch.GetTimestamp();

            op.Flag = flag;
            op.Value = op.Kind switch
            {
                OpKind.GetOrInsert or OpKind.Get or OpKind.GetAndDelete or OpKind.Swap => ArrayResult(array, k),
                OpKind.TryGetValue or OpKind.TryRemove => flag == (array is not null) ? ArrayResult(array, k) : RegisterModel.Garbage,
                OpKind.TryGetSpan => TryGetResult(flag, length, destination, k),
                OpKind.TryGetAndDeleteSpan or OpKind.TrySwapSpan => SpanResult(flag, length, destination, k),
                OpKind.TryGetWriter or OpKind.TryGetAndDeleteWriter or OpKind.TrySwapWriter => WriterResult(flag, k),
                OpKind.GetOrInsertWriter => WriterResult(true, k),
                OpKind.TryRead => flag ? _readSymbol : RegisterModel.Absent,
                _ => RegisterModel.Absent,
            };

            if (op.Value == RegisterModel.Garbage)
            {
                ReadOnlySpan<byte> seen = array is not null ? array : _writer.WrittenCount > 0 ? _writer.WrittenSpan : buffer[..Math.Min(length, destination)];
                return string.Create(CultureInfo.InvariantCulture, $"returned a value this history never wrote for the key (flag {flag}, length {length}): {ModelRules.Describe(seen)}");
            }

            return null;
        }
    }
}
