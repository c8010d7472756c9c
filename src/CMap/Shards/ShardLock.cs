using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace CMap;

/// <summary>
/// A shard's writer lock: a test-and-set word, one compare-and-swap to take it and one interlocked exchange to give it
/// back [L1].
/// <see cref="Lock"/> costs about 1.5× as much uncontended (a thread-id lookup and more checks around the same two
/// interlocked operations; LockBenchmarks), a tenth of a 1 K-entry overwrite. What makes the cheaper lock safe
/// here: it guards only the shard's own bounded work (one write, one compaction or eviction batch, one table walk's
/// copy), no user code ever runs under it (I11), and nothing that holds it takes it again. It is not re-entrant and
/// not fair; a waiter spins, then yields its processor, and never sleeps a fixed time, so a holder that the OS
/// descheduled gets the processor back. A struct, kept in its shard (one object less per shard for the garbage
/// collector to walk): it must live in a field and never be copied.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal partial struct ShardLock
{
    // Padding on both sides: the word is written by every writer of the shard and must not share a cache line with
    // what lock-free readers load (the shard's table pointer, in the same object, or whatever else is near it).
#pragma warning disable CS0169, IDE0051 // padding, never read
    private readonly long _padBefore0, _padBefore1, _padBefore2, _padBefore3, _padBefore4, _padBefore5, _padBefore6;
    private int _state; // 0: free, 1: held
    private int _contended; // takes that had to wait; written by the holder only
    private readonly long _padAfter1, _padAfter2, _padAfter3, _padAfter4, _padAfter5, _padAfter6, _padAfter7;
#pragma warning restore CS0169, IDE0051

    /// <summary>Takes the lock; the returned scope gives it back when disposed.</summary>
    [UnscopedRef]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Scope EnterScope()
    {
        // [L1] Acquire: a full fence on x64 (lock cmpxchg) and an acquiring exclusive pair on Arm64 (casal), so
        // nothing the holder reads or writes in its critical section moves above the take.
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            EnterContended();
        }

        return new Scope(ref this);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EnterContended()
    {
        var spinner = default(SpinWait);
        while (true)
        {
            // Test before test-and-set: waiters read a shared line and write it only when it looks free.
            if (Volatile.Read(ref _state) == 0 && Interlocked.CompareExchange(ref _state, 1, 0) == 0)
            {
                _contended++; // under the lock just taken
                return;
            }

            // Spins, then yields (Thread.Yield, Sleep(0)); never Sleep(1), which would add a millisecond to a
            // writer that waited behind one compaction batch.
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>
    /// [L1] Full fence: an interlocked exchange, not a plain release store. A release would be enough for the next
    /// holder (it publishes everything the holder wrote to whoever takes the lock next), but not for promise 2 of
    /// docs/concurrency.md, that a write which has returned is visible to every read that starts after it: readers
    /// take no lock, and on x64 a plain store can sit in the writer's store buffer after the write has returned (on
    /// Arm64 an stlr likewise orders but does not wait). The fence drains it before the write returns. The
    /// linearizability checker caught the plain store: a Refresh that started 70 ns after a Swap returned still found
    /// the key absent.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Exit() => Interlocked.Exchange(ref _state, 0);

    /// <summary>Holds the lock until disposed (a <c>using</c> scope gives it back on every path, exceptions included).</summary>
    internal readonly ref struct Scope
    {
        private readonly ref ShardLock _lock;

        internal Scope(ref ShardLock owner) => _lock = ref owner;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Dispose() => _lock.Exit();
    }
}
