using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap;
using CMap.Buffer;
using CMap.Tests.Stress;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Foundation;

/// <summary>
/// Issue 7, failure 1: a finalizer must never wait, neither on readers of other maps (the epoch) nor on anything
/// else, and whatever replaces the wait must not free memory that a reader of the finalized map is still inside.
/// <para>
/// These tests run in the non-parallel collection: they force full collections and wait for the process's
/// finalizer queue, which other tests' abandoned maps share.
/// </para>
/// <para>
/// Every wait is bounded. <see cref="GC.WaitForPendingFinalizers"/> runs on a dedicated thread joined with a
/// timeout, so a finalizer that blocks fails the test instead of hanging the run. (A dedicated thread rather than
/// a thread-pool task: a starved pool on a 2-core machine must not be mistaken for a blocked finalizer.)
/// </para>
/// </summary>
[Collection(StressCollection.Name)]
public sealed class FinalizerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_finalizerTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_freeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Abandon map B (background compaction on), then, inside a <c>TryRead</c> callback of another map A on this
    /// thread, force a collection and wait for finalizers. B's finalizer must finish without waiting for A's reader
    /// to leave, and B's native memory must come back while A's reader is still inside its callback.
    /// </summary>
    [Fact]
    public void AnAbandonedMapIsFinalizedAndFreedWhileAnotherMapsReaderIsInsideItsCallback()
    {
        const int seed = 7101;
        output.WriteLine($"seed {seed}");
        NativeArena abandonedArena = CreateFillAndAbandon(seed);
        Assert.True(abandonedArena.OutstandingBytes > 0, "the abandoned map should hold native memory before it is finalized");

        using var a = new ByteMap(new CMapConfig { ShardCount = 2, Seed = seed + 1, BackgroundCompaction = false });
        byte[] value = Bytes(300, seed);
        a.Insert("a-key"u8, value);

        var probe = new AbandonProbe(abandonedArena);
        try
        {
            bool found = a.TryRead("a-key"u8, probe, static (span, p) => p.RunInsideCallback(span));
            Assert.True(found, "map A lost its key");
            Assert.True(probe.Error is null, $"the callback threw: {probe.Error}");
            Assert.True(probe.ValueIntact, "map A's value changed under its own reader");
            Assert.True(
                probe.FinalizersFinished,
                $"GC.WaitForPendingFinalizers() did not return within {s_finalizerTimeout.TotalSeconds} s while map A's reader was " +
                "inside a callback: the abandoned map's finalizer waits for readers of another map (it must never wait)");
            Assert.True(
                probe.OutstandingAfterPoll == 0,
                $"the abandoned map still held {probe.OutstandingAfterPoll} native bytes {probe.PollMilliseconds} ms after its " +
                "finalizer was due, while map A's reader was inside a callback: its memory waits on another map's reader");
        }
        finally
        {
            // On a build whose finalizer waits on every reader in the process, the finalizer thread is released only
            // now: let it finish (bounded) so the next test does not inherit it.
            output.WriteLine($"finalizers finished inside the callback: {probe.FinalizersFinished}; outstanding after poll: {probe.OutstandingAfterPoll} B after {probe.PollMilliseconds} ms");
            bool drained = WaitForPendingFinalizers(s_finalizerTimeout);
            output.WriteLine($"finalizer queue drained after the callback: {drained}; abandoned arena now {abandonedArena.OutstandingBytes} B");
        }
    }

    /// <summary>
    /// A map referenced only by its own running <c>TryRead</c> callback (the optimizing JIT may consider the map dead
    /// after the lookup). A full collection with finalizers inside the callback must not free the memory the callback
    /// is reading, must not hang, and the map stays alive while its read is in progress.
    /// </summary>
    [Fact]
    public void AMapReferencedOnlyByItsRunningCallbackKeepsTheValueIntactThroughAForcedCollection()
    {
        const int seed = 7102;
        output.WriteLine($"seed {seed}");
        var probe = new SelfProbe(Bytes(1000, seed));

        // Warm the same read path first (same generic instantiation), so that it may be tiered up to optimized code.
        WarmUpReadPath(seed, probe.Expected);

        bool found = ReadFromAMapOnlyTheCallbackReferences(seed, probe);
        try
        {
            output.WriteLine(
                $"found {found}, finalizers finished {probe.FinalizersFinished}, value intact {probe.ValueIntact}, " +
                $"map alive after GC inside the callback {probe.AliveAfterCollect}, error {probe.Error?.GetType().Name ?? "none"}");
            Assert.True(found, "the key just inserted was not found");
            Assert.True(probe.Error is null, $"the callback threw: {probe.Error}");
            Assert.True(
                probe.FinalizersFinished,
                $"GC.WaitForPendingFinalizers() did not return within {s_finalizerTimeout.TotalSeconds} s inside the callback: " +
                "the finalizer of the map being read waits for its own reader (a finalizer must never wait)");
            Assert.True(probe.ValueIntact, "the value read again after a forced GC with finalizers inside the callback differs from its copy: memory under a running reader was freed or reused");
            Assert.True(probe.AliveAfterCollect, "the map was collected while its own TryRead callback was running: its read path must keep it alive");
        }
        finally
        {
            // Clean up: dispose the map if it is still alive, else let its finalizer run; its memory must come back.
            if (probe.Map.Target is ByteMap map)
            {
                map.Dispose();
            }

            GC.Collect();
            bool drained = WaitForPendingFinalizers(s_finalizerTimeout);
            long left = PollUntilFreed(probe.Arena!, s_freeTimeout, collect: true, out _);
            output.WriteLine($"cleanup: finalizers drained {drained}, map's arena {left} B");
        }

        Assert.Equal(0, probe.Arena!.OutstandingBytes);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void WarmUpReadPath(int seed, byte[] value)
    {
        using var warm = new ByteMap(new CMapConfig { ShardCount = 1, Seed = (ulong)seed + 7, BackgroundCompaction = false });
        warm.Insert("k"u8, value);
        var dummy = new SelfProbe(value);
        var sw = Stopwatch.StartNew();
        int calls = 0;

        // Enough calls, spread over enough time, for tiered compilation to promote the read path (bounded: 400 ms).
        while (calls < 2_000 || sw.ElapsedMilliseconds < 250)
        {
            warm.TryRead("k"u8, dummy, static (span, p) => p.Touch(span));
            calls++;
            if ((calls & 63) == 0)
            {
                Thread.Yield();
            }

            if (sw.ElapsedMilliseconds > 400)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Creates the map, inserts the key and reads it; the map is referenced by nothing but the read in progress
    /// (the probe holds only a <see cref="WeakReference"/> to it and its arena, which does not reference the map).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static bool ReadFromAMapOnlyTheCallbackReferences(int seed, SelfProbe probe)
    {
        var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = (ulong)seed, BackgroundCompaction = false });
        map.Insert("self"u8, probe.Expected);
        probe.Map = new WeakReference(map);
        probe.Arena = map.ArenaForTests;
        return map.TryRead("self"u8, probe, s_selfCallback);
    }

    private static readonly System.Buffers.ReadOnlySpanAction<byte, SelfProbe> s_selfCallback = SelfCallback;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void SelfCallback(ReadOnlySpan<byte> span, SelfProbe p)
    {
        try
        {
            byte[] copy = span.ToArray();
            GC.Collect();
            p.FinalizersFinished = WaitForPendingFinalizers(s_finalizerTimeout);
            GC.Collect();
            p.ValueIntact = span.SequenceEqual(copy) && copy.AsSpan().SequenceEqual(p.Expected);
            p.AliveAfterCollect = p.Map.IsAlive;
        }
#pragma warning disable CA1031 // The callback records every failure; the test asserts after TryRead returns.
        catch (Exception e)
#pragma warning restore CA1031
        {
            p.Error = e;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static NativeArena CreateFillAndAbandon(int seed)
    {
        var map = new ByteMap(new CMapConfig { ShardCount = 4, Seed = (ulong)seed, ChunkSizes = [1024, 4096], BackgroundCompaction = true });
        var rng = new Random(seed);
        for (int i = 0; i < 2000; i++)
        {
            map.Insert(BitConverter.GetBytes(i), Bytes(rng.Next(10, 300), i));
        }

        // Overwrites and deletes: dead bytes (the compactor is asked to run) and retired memory pending at finalization.
        for (int i = 0; i < 2000; i += 2)
        {
            map.Insert(BitConverter.GetBytes(i), Bytes(rng.Next(10, 300), -i));
        }

        map.Insert("big"u8, new byte[300_000]);
        map.Insert("big"u8, new byte[200_000]);
        for (int i = 0; i < 2000; i += 5)
        {
            map.Delete(BitConverter.GetBytes(i));
        }

        return map.ArenaForTests;
    }

    /// <summary>Runs <see cref="GC.WaitForPendingFinalizers"/> on a dedicated thread; false when it did not return in time.</summary>
    internal static bool WaitForPendingFinalizers(TimeSpan timeout)
    {
        var t = new Thread(static () => GC.WaitForPendingFinalizers()) { IsBackground = true, Name = "WaitForPendingFinalizers" };
        t.Start();
        return t.Join(timeout);
    }

    /// <summary>Spins (yielding, never sleeping) until the arena holds nothing or the timeout passes; returns what it holds.</summary>
    internal static long PollUntilFreed(NativeArena arena, TimeSpan timeout, bool collect, out long elapsedMs)
    {
        var sw = Stopwatch.StartNew();
        var spin = default(SpinWait);
        long lastCollect = 0;
        while (arena.OutstandingBytes != 0 && sw.Elapsed < timeout)
        {
            // A compactor pass in progress holds the map alive for a moment: collect again now and then.
            if (collect && sw.ElapsedMilliseconds - lastCollect >= 50)
            {
                lastCollect = sw.ElapsedMilliseconds;
                GC.Collect();
            }

            spin.SpinOnce(sleep1Threshold: -1);
            Thread.Yield();
        }

        elapsedMs = sw.ElapsedMilliseconds;
        return arena.OutstandingBytes;
    }

    private static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private sealed class AbandonProbe(NativeArena abandonedArena)
    {
        private byte[]? _firstCopy;

        public bool FinalizersFinished { get; private set; }

        public long OutstandingAfterPoll { get; private set; } = -1;

        public long PollMilliseconds { get; private set; }

        public bool ValueIntact { get; private set; }

        public Exception? Error { get; private set; }

        public void RunInsideCallback(ReadOnlySpan<byte> span)
        {
            try
            {
                _firstCopy = span.ToArray();
                GC.Collect();
                FinalizersFinished = WaitForPendingFinalizers(s_finalizerTimeout);

                // Bounded poll: memory freed by something other than the finalizer (or after a compactor pass that held
                // the map for a moment) gets time to come back. Pointless when the finalizer thread is stuck.
                long ms = 0;
                OutstandingAfterPoll = FinalizersFinished
                    ? PollUntilFreed(abandonedArena, s_freeTimeout, collect: true, out ms)
                    : abandonedArena.OutstandingBytes;
                PollMilliseconds = ms;
                ValueIntact = span.SequenceEqual(_firstCopy);
            }
#pragma warning disable CA1031 // The callback records every failure; the test asserts after TryRead returns.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Error = e;
            }
        }
    }

    private sealed class SelfProbe(byte[] expected)
    {
        private long _touched;

        public byte[] Expected { get; } = expected;

        public WeakReference Map { get; set; } = new(null);

        public NativeArena? Arena { get; set; }

        public bool FinalizersFinished { get; set; }

        public bool ValueIntact { get; set; }

        public bool AliveAfterCollect { get; set; }

        public Exception? Error { get; set; }

        public void Touch(ReadOnlySpan<byte> span) => _touched += span.Length;
    }
}
