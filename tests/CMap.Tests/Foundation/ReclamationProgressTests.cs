using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using CMap;
using CMap.Buffer;
using CMap.Tests.Stress;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Foundation;

/// <summary>
/// Issue 7, failure 2: <see cref="ByteMap.Clear"/> and <see cref="ByteMap.Compact"/> must return once the readers
/// that were inside when they began have left, whatever writers do meanwhile. The setup that livelocked them: one
/// writer overwriting 40 KB values (each overwrite retires a block), and 4 readers whose callbacks take about 2 ms.
/// Every wait is bounded; the operation runs on a dedicated thread joined with a 5 s timeout.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class ReclamationProgressTests(ITestOutputHelper output)
{
    private const int ValueLength = 40_000;
    private const int KeyCount = 4;
    private const int ReaderCount = 4;
    private const int MinAttempts = 10;
    private const int MaxAttempts = 30;
    private const double MedianBoundMs = 250;
    private static readonly TimeSpan s_operationTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_joinTimeout = TimeSpan.FromSeconds(10);
    private static readonly long s_callbackTicks = Stopwatch.Frequency * 2 / 1000; // ~2 ms

    [Theory]
    [InlineData("Clear")]
    [InlineData("Compact")]
    public void ReturnsWithinFiveSecondsWhileAWriterOverwritesLargeValuesAndReadersHoldLongCallbacks(string operation)
    {
        int seed = operation == "Clear" ? 7201 : 7202;
        output.WriteLine($"seed {seed}, operation {operation}");
        var map = new ByteMap(new CMapConfig { ShardCount = 4, Seed = (ulong)seed, BackgroundCompaction = false });
        NativeArena arena = map.ArenaForTests;
        var rng = new Random(seed);
        byte[][] keys = [.. Enumerable.Range(0, KeyCount).Select(i => BitConverter.GetBytes(0x5EED0000 + i))];
        byte[][] values = [.. Enumerable.Range(0, 8).Select(_ => RandomBytes(rng, ValueLength))];
        foreach (byte[] k in keys)
        {
            map.Insert(k, values[0]);
        }

        var state = new RunState();
        var threads = new Thread[1 + ReaderCount];
        threads[0] = new Thread(() => WriterLoop(map, keys, values, seed, state)) { IsBackground = true, Name = "writer" };
        for (int r = 0; r < ReaderCount; r++)
        {
            int id = r;
            threads[1 + r] = new Thread(() => ReaderLoop(map, keys, id, state)) { IsBackground = true, Name = $"reader {id}" };
        }

        Thread? opThread = null;
        bool hung = false;
        bool mapSafeToDispose = true;
        long writesDuring = 0;
        int attempts = 0;
        var opTimes = new System.Collections.Generic.List<double>();
        try
        {
            foreach (Thread t in threads)
            {
                t.Start();
            }

            // Wait (bounded, spinning) until the writer and every reader are under way.
            var warm = Stopwatch.StartNew();
            while ((Volatile.Read(ref state.Writes) < 100 || state.MinReads() < 3) && state.Errors.IsEmpty && warm.Elapsed < s_joinTimeout)
            {
                Thread.Yield();
            }

            Assert.True(state.Errors.IsEmpty, "a thread failed during warm-up: " + string.Join("; ", state.Errors));
            Assert.True(Volatile.Read(ref state.Writes) >= 100 && state.MinReads() >= 3, $"the threads made no progress in {s_joinTimeout.TotalSeconds} s: writes {state.Writes}, reads {string.Join(",", state.Reads)}");

            // Once fixed, a call waits only for the callbacks running when it began (~2 ms each, plus scheduling).
            // The old code's drain loop ends only when the writer happens to pause for longer than a callback: its calls
            // took 0.1 s to over 5 s (median ~0.7 s). So: no call may take 5 s (a hang), and the median of at least
            // MinAttempts calls must stay under MedianBound. Stops early once more than half the calls were slow.
            int slow = 0;
            for (attempts = 1; attempts <= MaxAttempts; attempts++)
            {
                var op = new OperationRun(map, operation, state);
                opThread = new Thread(op.Run) { IsBackground = true, Name = operation };
                opThread.Start();
                if (!opThread.Join(s_operationTimeout))
                {
                    hung = true;
                    break;
                }

                opThread = null;
                if (op.Error is not null)
                {
                    Assert.Fail($"{operation} threw: {op.Error}");
                }

                opTimes.Add(op.ElapsedMs);
                writesDuring += op.WritesDuring;
                if (op.ElapsedMs >= MedianBoundMs)
                {
                    slow++;
                }

                if ((writesDuring > 0 && attempts >= MinAttempts) || slow > MinAttempts / 2)
                {
                    break;
                }
            }

            Assert.True(
                !hung,
                $"{operation}() did not return within {s_operationTimeout.TotalSeconds} s (attempt {attempts}; earlier calls {Times(opTimes)} ms) while a writer overwrote " +
                $"{ValueLength} B values and {ReaderCount} readers ran ~2 ms callbacks: it waits for memory retired after it began (livelock)");
            double median = Median(opTimes);
            Assert.True(
                median < MedianBoundMs,
                $"{operation}() calls took {Times(opTimes)} ms (median {median:F0} ms, bound {MedianBoundMs} ms) while a writer overwrote {ValueLength} B values " +
                $"and {ReaderCount} readers ran ~2 ms callbacks: each call should wait only for the callbacks running when it began, not for memory retired after it began");
            Assert.True(
                writesDuring > 0,
                $"no write completed while {operation}() ran in {opTimes.Count} calls (times {Times(opTimes)} ms): the race was not exercised");
            Assert.True(state.Errors.IsEmpty, "a thread failed: " + string.Join("; ", state.Errors));
        }
        finally
        {
            Volatile.Write(ref state.Stop, 1);
            foreach (Thread t in threads)
            {
                if (t.IsAlive && !t.Join(s_joinTimeout))
                {
                    mapSafeToDispose = false;
                    output.WriteLine($"{t.Name} did not stop within {s_joinTimeout.TotalSeconds} s");
                }
            }

            // Once the writer stopped, a livelocked call returns (about 20 ms later on the old code).
            if (opThread is not null && !opThread.Join(s_joinTimeout))
            {
                mapSafeToDispose = false;
                output.WriteLine($"{operation}() still had not returned {s_joinTimeout.TotalSeconds} s after the writer stopped");
            }

            output.WriteLine(
                $"attempts {attempts}, hung {hung}, writes during the call {writesDuring}, call times {Times(opTimes)} ms, " +
                $"total writes {state.Writes}, reads [{string.Join(", ", state.Reads)}]");
            if (mapSafeToDispose)
            {
                map.Dispose();
            }
        }

        Assert.True(state.Errors.IsEmpty, "a thread failed: " + string.Join("; ", state.Errors));
        Assert.True(arena.OutstandingBytes == 0, $"{arena.OutstandingBytes} native bytes outstanding after Dispose");
    }

    private static void WriterLoop(ByteMap map, byte[][] keys, byte[][] values, int seed, RunState state)
    {
        try
        {
            var rng = new Random(seed ^ 0x1234);
            while (Volatile.Read(ref state.Stop) == 0)
            {
                map.Insert(keys[rng.Next(keys.Length)], values[rng.Next(values.Length)]);
                Interlocked.Increment(ref state.Writes);
            }
        }
#pragma warning disable CA1031 // A test thread reports every exception instead of crashing the test host.
        catch (Exception e)
#pragma warning restore CA1031
        {
            state.Errors.Enqueue($"writer: {e}");
            Volatile.Write(ref state.Stop, 1);
        }
    }

    private static void ReaderLoop(ByteMap map, byte[][] keys, int id, RunState state)
    {
        try
        {
            int i = id;
            while (Volatile.Read(ref state.Stop) == 0)
            {
                if (map.TryRead(keys[i++ % keys.Length], state, static (span, s) => s.SlowCallback(span)))
                {
                    Interlocked.Increment(ref state.Reads[id]);
                }
            }
        }
#pragma warning disable CA1031 // A test thread reports every exception instead of crashing the test host.
        catch (Exception e)
#pragma warning restore CA1031
        {
            state.Errors.Enqueue($"reader {id}: {e}");
            Volatile.Write(ref state.Stop, 1);
        }
    }

    private static string Times(System.Collections.Generic.List<double> times) =>
        "[" + string.Join(", ", times.Select(x => x.ToString("F1", System.Globalization.CultureInfo.InvariantCulture))) + "]";

    private static double Median(System.Collections.Generic.List<double> times)
    {
        if (times.Count == 0)
        {
            return double.NaN;
        }

        double[] sorted = [.. times.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static byte[] RandomBytes(Random rng, int length)
    {
        var b = new byte[length];
        rng.NextBytes(b);
        return b;
    }

    private sealed class RunState
    {
        public readonly long[] Reads = new long[ReaderCount];
        public readonly ConcurrentQueue<string> Errors = new();
        public long Writes;
        public int Stop;

        public long MinReads()
        {
            long min = long.MaxValue;
            for (int i = 0; i < Reads.Length; i++)
            {
                min = Math.Min(min, Volatile.Read(ref Reads[i]));
            }

            return min;
        }

        /// <summary>Busy-spins about 2 ms inside the read callback, checking the value's length.</summary>
        public void SlowCallback(ReadOnlySpan<byte> value)
        {
            if (value.Length != ValueLength)
            {
                Errors.Enqueue($"a reader saw a value of {value.Length} B, expected {ValueLength}");
            }

            long start = Stopwatch.GetTimestamp();
            byte acc = 0;
            while (Stopwatch.GetTimestamp() - start < s_callbackTicks)
            {
                acc ^= value[(int)(Stopwatch.GetTimestamp() & 0x3FFF)];
            }

            GC.KeepAlive(acc);
        }
    }

    private sealed class OperationRun(ByteMap map, string operation, RunState state)
    {
        public long WritesDuring { get; private set; }

        public double ElapsedMs { get; private set; }

        public Exception? Error { get; private set; }

        public void Run()
        {
            try
            {
                long before = Volatile.Read(ref state.Writes);
                long start = Stopwatch.GetTimestamp();
                if (operation == "Clear")
                {
                    map.Clear();
                }
                else
                {
                    map.Compact();
                }

                ElapsedMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                WritesDuring = Volatile.Read(ref state.Writes) - before;
            }
#pragma warning disable CA1031 // Reported to the test thread.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Error = e;
            }
        }
    }
}
