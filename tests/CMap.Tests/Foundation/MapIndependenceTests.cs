using System;
using System.Diagnostics;
using System.Threading;
using CMap;
using CMap.Buffer;
using CMap.Tests.Stress;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Foundation;

/// <summary>
/// Issue 7, failure 5: reclamation is scoped to the map. Inside a read callback of map A, another map B's
/// <see cref="ByteMap.Compact"/>, <see cref="ByteMap.Clear"/> and <see cref="ByteMap.Dispose"/> work and do not wait
/// for A's reader; A's own Clear, Compact and Dispose throw <see cref="InvalidOperationException"/> (they would wait
/// on themselves) and change nothing.
/// <para>
/// In the non-parallel collection: on a build with a process-wide epoch these tests hold every map's reclamation
/// for seconds, which would stall unrelated tests running alongside.
/// </para>
/// </summary>
[Collection(StressCollection.Name)]
public sealed class MapIndependenceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_freeTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_readerCap = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_waitTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public void AnotherMapsCompactClearAndDisposeWorkInsideThisMapsReadCallback()
    {
        const int seed = 7501;
        output.WriteLine($"seed {seed}");
        using var a = new ByteMap(new CMapConfig { ShardCount = 2, Seed = seed, BackgroundCompaction = false });
        a.Insert("a-key"u8, Bytes(100, seed));
        ByteMap b = CreateWithDeadBytes(seed + 1);
        NativeArena bArena = b.ArenaForTests;
        var probe = new OtherMapProbe(b);
        try
        {
            bool found = a.TryRead("a-key"u8, probe, static (_, p) => p.Run());
            output.WriteLine(
                $"compact: {Describe(probe.CompactError)} ({probe.Compacted} chunks); clear: {Describe(probe.ClearError)} (count after {probe.CountAfterClear}); " +
                $"dispose: {Describe(probe.DisposeError)}; B's arena inside the callback {probe.OutstandingInside} B");
            Assert.True(found);
            Assert.True(probe.CompactError is null, $"B.Compact() inside a read callback of map A threw: {probe.CompactError}");
            Assert.True(probe.ClearError is null, $"B.Clear() inside a read callback of map A threw: {probe.ClearError}");
            Assert.Equal(0, probe.CountAfterClear);
            Assert.True(probe.DisposeError is null, $"B.Dispose() inside a read callback of map A threw: {probe.DisposeError}");
            Assert.True(
                probe.OutstandingInside == 0,
                $"B still held {probe.OutstandingInside} native bytes {s_freeTimeout.TotalSeconds} s after its Dispose() inside map A's callback: B's memory waits on A's reader");
        }
        finally
        {
            b.Dispose();
        }

        Assert.Equal(0, bArena.OutstandingBytes);
        Assert.Throws<ObjectDisposedException>(() => b.Get("x"u8));
    }

    [Fact]
    public void ThisMapsClearCompactAndDisposeThrowInsideItsOwnReadCallbackAndChangeNothing()
    {
        const int seed = 7502;
        output.WriteLine($"seed {seed}");
        ByteMap a = CreateWithDeadBytes(seed);
        NativeArena arena = a.ArenaForTests;
        try
        {
            long count = a.Count;
            byte[] value = Bytes(100, seed);
            a.Insert("probe"u8, value);
            count++;
            var probe = new SelfMapProbe(a);
            bool found = a.TryRead("probe"u8, probe, static (_, p) => p.Run());
            output.WriteLine($"clear: {Describe(probe.ClearError)}; compact: {Describe(probe.CompactError)}; dispose: {Describe(probe.DisposeError)}");
            Assert.True(found);
            AssertRefused("Clear", probe.ClearError);
            AssertRefused("Compact", probe.CompactError);
            AssertRefused("Dispose", probe.DisposeError);

            // Nothing changed, and the map is fully usable.
            Assert.Equal(count, a.Count);
            Assert.Equal(value, a.Get("probe"u8));
            Assert.True(a.Insert("after"u8, "works"u8));
            Assert.Equal("works"u8.ToArray(), a.Get("after"u8));
            a.Compact();
            Assert.Equal(count + 1, a.Count);
            a.Clear();
            Assert.Equal(0, a.Count);
            Assert.Null(a.Get("probe"u8));
            Assert.True(a.Insert("again"u8, value));
            Assert.Equal(value, a.Get("again"u8));
        }
        finally
        {
            a.Dispose();
        }

        Assert.Equal(0, arena.OutstandingBytes);
    }

    /// <summary>
    /// A reader of map A stays inside its callback (on another thread, until released or for at most 5 s); on this
    /// thread B.Compact(), B.Clear() and B.Dispose() must all complete while A's reader is still inside.
    /// </summary>
    [Fact]
    public void AnotherMapsLongCallbackDoesNotHoldUpThisMapsCompactClearOrDispose()
    {
        const int seed = 7503;
        output.WriteLine($"seed {seed}");
        using var a = new ByteMap(new CMapConfig { ShardCount = 2, Seed = seed, BackgroundCompaction = false });
        a.Insert("a-key"u8, Bytes(100, seed));
        ByteMap b = CreateWithDeadBytes(seed + 1);
        NativeArena bArena = b.ArenaForTests;
        var reader = new LongReader(a, s_readerCap);
        var thread = new Thread(reader.Run) { IsBackground = true, Name = "map A's long reader" };
        bool leftBeforeOps = false, leftAfterCompact = false, leftAfterClear = false, leftAfterDispose = false;
        double compactMs = 0, clearMs = 0, disposeMs = 0;
        long outstandingAfterDispose = -1;
        try
        {
            thread.Start();
            Assert.True(reader.Entered.Wait(s_waitTimeout), "map A's reader never entered its callback");
            leftBeforeOps = reader.Left;

            long t0 = Stopwatch.GetTimestamp();
            b.Compact();
            compactMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            leftAfterCompact = reader.Left;

            t0 = Stopwatch.GetTimestamp();
            b.Clear();
            clearMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            leftAfterClear = reader.Left;

            t0 = Stopwatch.GetTimestamp();
            b.Dispose();
            disposeMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            leftAfterDispose = reader.Left;
            outstandingAfterDispose = bArena.OutstandingBytes;
        }
        finally
        {
            reader.Release();
            bool joined = !thread.IsAlive || thread.Join(s_waitTimeout);
            if (joined)
            {
                reader.Dispose(); // only once the reader thread is done with its event
            }

            b.Dispose();
            output.WriteLine(
                $"B.Compact {compactMs:F2} ms (A's reader left: {leftAfterCompact}), B.Clear {clearMs:F2} ms (left: {leftAfterClear}), " +
                $"B.Dispose {disposeMs:F2} ms (left: {leftAfterDispose}); B's arena after Dispose {outstandingAfterDispose} B; reader joined {joined}, error {Describe(reader.Error)}");
        }

        Assert.True(reader.Error is null, $"map A's reader failed: {reader.Error}");
        Assert.False(leftBeforeOps, "map A's reader left before B's operations started (the test did not exercise the overlap)");
        Assert.False(leftAfterCompact, $"B.Compact() returned only after map A's reader left its callback ({compactMs:F0} ms): it waited for another map's reader");
        Assert.False(leftAfterClear, $"B.Clear() returned only after map A's reader left its callback ({clearMs:F0} ms): it waited for another map's reader");
        Assert.False(leftAfterDispose, $"B.Dispose() returned only after map A's reader left its callback ({disposeMs:F0} ms): it waited for another map's reader");
        Assert.True(outstandingAfterDispose == 0, $"B held {outstandingAfterDispose} native bytes right after its Dispose() while A's reader was inside");
        Assert.Equal(0, bArena.OutstandingBytes);
    }

    private static void AssertRefused(string operation, Exception? e)
    {
        Assert.True(e is not null, $"A.{operation}() inside A's own read callback did not throw (it must throw InvalidOperationException: it would wait on itself)");
        Assert.True(e is InvalidOperationException, $"A.{operation}() inside A's own read callback threw {e.GetType().Name}, expected InvalidOperationException: {e.Message}");
        Assert.True(
            e.Message.Contains("callback", StringComparison.OrdinalIgnoreCase),
            $"A.{operation}()'s InvalidOperationException does not say it was called inside a read callback: \"{e.Message}\"");
    }

    /// <summary>A map with entries, overwrites (dead bytes, retired blocks pending) and deletes; no background compaction.</summary>
    private static ByteMap CreateWithDeadBytes(int seed)
    {
        var map = new ByteMap(new CMapConfig { ShardCount = 4, Seed = (ulong)seed, ChunkSizes = [1024, 4096], BackgroundCompaction = false });
        var rng = new Random(seed);
        for (int i = 0; i < 1000; i++)
        {
            map.Insert(BitConverter.GetBytes(i), Bytes(rng.Next(10, 200), i));
        }

        for (int i = 0; i < 1000; i += 2)
        {
            map.Insert(BitConverter.GetBytes(i), Bytes(rng.Next(10, 200), -i));
        }

        map.Insert("big"u8, new byte[100_000]);
        map.Insert("big"u8, new byte[90_000]);
        for (int i = 0; i < 1000; i += 7)
        {
            map.Delete(BitConverter.GetBytes(i));
        }

        return map;
    }

    private static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static string Describe(Exception? e) => e is null ? "ok" : $"{e.GetType().Name}: {e.Message}";

    /// <summary>Spins (yielding) until the arena is empty or the timeout passes; returns what it still holds.</summary>
    private static long PollUntilFreed(NativeArena arena, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (arena.OutstandingBytes != 0 && sw.Elapsed < timeout)
        {
            Thread.Yield();
        }

        return arena.OutstandingBytes;
    }

    private sealed class OtherMapProbe(ByteMap other)
    {
        public Exception? CompactError { get; private set; }

        public Exception? ClearError { get; private set; }

        public Exception? DisposeError { get; private set; }

        public int Compacted { get; private set; } = -1;

        public long CountAfterClear { get; private set; } = -1;

        public long OutstandingInside { get; private set; } = -1;

        public void Run()
        {
            NativeArena arena = other.ArenaForTests;
            CompactError = Capture(() => Compacted = other.Compact());
            ClearError = Capture(() =>
            {
                other.Clear();
                CountAfterClear = other.Count;
            });
            DisposeError = Capture(other.Dispose);
            OutstandingInside = DisposeError is null ? PollUntilFreed(arena, s_freeTimeout) : arena.OutstandingBytes;
        }
    }

    private sealed class SelfMapProbe(ByteMap self)
    {
        public Exception? ClearError { get; private set; }

        public Exception? CompactError { get; private set; }

        public Exception? DisposeError { get; private set; }

        public void Run()
        {
            ClearError = Capture(self.Clear);
            CompactError = Capture(() => self.Compact());
            DisposeError = Capture(self.Dispose);
        }
    }

    private static Exception? Capture(Action action)
    {
        try
        {
            action();
            return null;
        }
#pragma warning disable CA1031 // Every exception is recorded and asserted on after the callback returns.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return e;
        }
    }

    /// <summary>Reads map A and stays inside the callback until released (or the cap passes); records when it leaves.</summary>
    private sealed class LongReader(ByteMap map, TimeSpan cap) : IDisposable
    {
        private int _released;
        private int _left;

        public ManualResetEventSlim Entered { get; } = new(false);

        /// <summary>Set as the callback's last action, before its epoch region ends.</summary>
        public bool Left => Volatile.Read(ref _left) != 0;

        public Exception? Error { get; private set; }

        public void Release() => Volatile.Write(ref _released, 1);

        public void Run()
        {
            try
            {
                map.TryRead("a-key"u8, this, static (_, r) => r.Hold());
            }
#pragma warning disable CA1031 // Reported to the test thread.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Error = e;
            }
            finally
            {
                Volatile.Write(ref _left, 1);
                Entered.Set();
            }
        }

        public void Dispose() => Entered.Dispose();

        private void Hold()
        {
            Entered.Set();
            var sw = Stopwatch.StartNew();
            var spin = default(SpinWait);
            while (Volatile.Read(ref _released) == 0 && sw.Elapsed < cap)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            Volatile.Write(ref _left, 1);
        }
    }
}
