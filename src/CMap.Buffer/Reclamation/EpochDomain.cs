using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Threading;

namespace CMap.Buffer;

/// <summary>
/// Epoch-based reclamation for one map, in the style of an instance of FASTER's LightEpoch: a reader announces the
/// domain's epoch in its own slot before it loads any shared pointer and clears the slot when done; memory
/// unpublished at epoch <c>r</c> is freed once no slot holds an epoch <c>≤ r</c>. Each map has its own domain, so
/// a reader of one map never holds up another map's reclamation, <c>Clear</c> or <c>Dispose</c>. The protocol and
/// its invariants (E1–E7) are in docs/concurrency.md.
/// </summary>
internal sealed unsafe partial class EpochDomain
{
    private const int SlotsPerSegment = 64;
    private const int LongsPerSlot = 8; // one cache line per thread: no false sharing between readers
    private const int DepthOffset = 1;  // slot[0]: the announced epoch (0 = idle); slot[1]: nesting depth (owner only)

    /// <summary>
    /// slot[2] and slot[3]: the owning thread's read hits and misses in this domain's map. Plain increments by the
    /// owner only, on a line it has just written, so counting costs a read no contention; <see cref="SumCounter"/>
    /// adds the slots up. Exact: a slot outlives its thread, and a later thread given the same index adds to it.
    /// </summary>
    internal const int HitsOffset = 2;

    /// <inheritdoc cref="HitsOffset"/>
    internal const int MissesOffset = 3;

    /// <summary>
    /// [E1] Whether a reader needs a full fence between its announce and its first protected load. True on every
    /// platform but x86/x64 (a constant the JIT folds, so x64 pays nothing). There, a release store followed by an
    /// acquire load may be reordered (Arm64's <c>stlr</c> then <c>ldapr</c>), and so may a plain store and load on the
    /// weaker ISAs .NET runs on; only a full fence orders them without help from the reclaimer.
    /// </summary>
    internal static bool ReaderFenceRequired => !X86Base.IsSupported;

    // [E4] The domain's epoch. Starts at 1 because a slot value of 0 means "not in a protected region".
    // Writers: BumpForRetire (Interlocked.Increment) and Close (Interlocked.Or of ClosedBit), both full fences.
    // Readers: Volatile.Read. [E6] Once closed, every epoch carries ClosedBit, so the outermost Enter learns that
    // the domain is closed from one load of it made after its announce.
    private PaddedLong _current = new() { Value = 1 };

    private const long ClosedBit = 1L << 62;

    // Each domain's number, so a thread can cache "my slot in the domain I entered last" without holding the domain.
    private static long s_lastId;
    private readonly long _id = Interlocked.Increment(ref s_lastId);

    // [E1] The calling thread's slot in the domain it entered last: the fast path of Enter is two thread-static
    // loads and a compare. Only the owning thread reads or writes these.
    [ThreadStatic]
    private static long t_cachedId;
    [ThreadStatic]
    private static nint t_cachedSlot;

    // Per-thread slots, segment k holding thread indices 64k..64k+63. Replaced copy-on-write under _growLock and
    // published with Volatile.Write, so a reader or scanner never sees a half-built array. The segments are
    // pinned managed arrays held by _segmentArrays: they live as long as the domain does.
    private nint[] _segments = [];
    private readonly List<long[]> _segmentArrays = [];
    private readonly Lock _growLock = new();

    // Reclaimer-side counters, written under the owner's retire-list lock or with Interlocked; read racily.
    private long _barriers;

    /// <summary>Process-wide barriers this domain's reclaimer has issued (the cost readers of every map pay).</summary>
    internal long Barriers => Volatile.Read(ref _barriers);

    /// <summary>True once <see cref="Close"/> was called.</summary>
    internal bool IsClosed => (Volatile.Read(ref _current.Value) & ClosedBit) != 0;

    /// <summary>
    /// Enters a protected region: until the matching <see cref="Exit"/>, nothing unpublished after this call returns
    /// is freed. Regions nest per thread and domain; only the outermost announces. Throws
    /// <see cref="ObjectDisposedException"/> (having left the region) once the domain is closed.
    /// </summary>
    /// <returns>The calling thread's slot, to pass to <see cref="Exit"/>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal long* Enter()
    {
        long* slot = t_cachedId == _id ? (long*)t_cachedSlot : CacheSlotOfCurrentThread();
        if (slot[DepthOffset]++ == 0)
        {
            Announce(slot, Volatile.Read(ref _current.Value));
        }

        return slot;
    }

    /// <summary>
    /// The outermost <see cref="Enter"/>'s second half: announces <paramref name="epoch"/> (read from the domain's
    /// epoch a moment ago, so possibly stale by now) and leaves again, throwing, if the domain is closed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Announce(long* slot, long epoch)
    {
        // [E1] Announce. The store must be visible before the loads it protects (the closed flag below, then the
        // index table and entries). The JIT moves no memory access across a volatile one. On x86/x64 the CPU may
        // still hold the store in its store buffer while later loads run; the reclaimer's process-wide barrier
        // [E3] drains it before any scan. Elsewhere (Arm64: stlr then ldapr may pass each other) the full fence
        // below orders it, and the reclaimer needs no help from the OS. Were the store ordered after the loads
        // with neither, a reclaimer could miss this reader and free a table or chunk it is about to read.
        Volatile.Write(ref *slot, epoch);
        if (ReaderFenceRequired)
        {
            Interlocked.MemoryBarrier();
        }

        // [E6] The closed bit is checked on a load made *after* the announce, never on the announced value: that
        // value was read before the announce, and a thread descheduled between the two could announce it after
        // Dispose had closed the domain, scanned the slots (seeing this one idle) and freed everything; it would
        // then read freed memory. Loaded after the announce, like the table pointer it protects, the bit obeys the
        // same argument as [E1]: either the scan that follows Close sees this announce, or this load sees the bit.
        // (The line is the one the first load just brought in: a second L1 hit.)
        if ((Volatile.Read(ref _current.Value) & ClosedBit) != 0)
        {
            ExitAndThrowClosed(slot);
        }
    }

    /// <summary>Leaves a region entered with <see cref="Enter"/> on the same thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Exit(long* slot)
    {
        if (--slot[DepthOffset] == 0)
        {
            // [E2] Release store: every read of shared memory in the region happens before the slot reads 0 (on
            // x86/x64 no load passes a later store; on Arm64 stlr orders earlier loads). Were a read reordered after
            // it, a reclaimer could free memory that read still touches.
            Volatile.Write(ref *slot, 0);
        }
    }

    /// <summary>True when the calling thread is inside a protected region of this domain (its own read callback).</summary>
    internal bool IsEnteredByCurrentThread
    {
        get
        {
            int index = ThreadIndex.Current;
            nint[] segments = Volatile.Read(ref _segments);
            int seg = index / SlotsPerSegment;
            return seg < segments.Length && segments[seg] != 0 &&
                   ((long*)segments[seg])[(index % SlotsPerSegment * LongsPerSlot) + DepthOffset] > 0;
        }
    }

    /// <summary>Refuses new regions from now on: <see cref="Enter"/> throws <see cref="ObjectDisposedException"/>.</summary>
    internal void Close() =>
        // [E6] Full fence: a reader entering after this announces an epoch with the bit and leaves, or its announce
        // (of an epoch without it) is seen by the grace wait. Or-ing a high bit keeps epochs increasing.
        Interlocked.Or(ref _current.Value, ClosedBit);

    /// <summary>
    /// Call after unpublishing memory (the last pointer to it replaced with a release store) and before handing it
    /// to the retire list. Returns the retirement epoch <c>r</c>: the memory is safe to free once
    /// <see cref="ComputeSafeEpoch"/> returns a value greater than <c>r</c>.
    /// </summary>
    internal long BumpForRetire() =>
        // [E4] Interlocked is a full fence: the unpublishing store is visible before the new epoch is, so any reader
        // that announces the new epoch loads the new pointer.
        Interlocked.Increment(ref _current.Value) - 1;

    /// <summary>
    /// The smallest epoch announced by a reader inside a region, or the current epoch if none is: everything retired
    /// at an epoch strictly below the result may be freed. Issues the barrier [E3] that makes the answer exact.
    /// </summary>
    internal long ComputeSafeEpoch(out bool readersActive)
    {
        // [E3] On x86/x64, an asymmetric fence: it drains every thread's store buffer, so a reader whose announce
        // [E1] is not visible after this point has not yet done the loads it protects, and those loads will see the
        // already-unpublished pointers. Elsewhere the reader's own fence [E1] did that work, and a full fence here
        // orders this scan after the unpublishing stores (the classic store-buffering pattern, fenced on both sides).
        if (X86Base.IsSupported)
        {
            Interlocked.MemoryBarrierProcessWide();
        }
        else
        {
            Interlocked.MemoryBarrier();
        }

        Interlocked.Increment(ref _barriers);
        return Scan(out readersActive);
    }

    /// <summary>
    /// [E7] The same scan without the barrier: an upper bound on <see cref="ComputeSafeEpoch"/>, since it may miss a
    /// reader but never invents one. When the oldest retired item's epoch is at or above it, nothing can be freed and
    /// the barrier can be skipped.
    /// </summary>
    internal long PeekSafeEpoch() => Scan(out _);

    /// <summary>
    /// Blocks until everything retired at or before <paramref name="retireEpoch"/> is safe to free: until every reader
    /// that was inside a region when it was retired has left. Readers that enter later never delay it [E7].
    /// </summary>
    internal void WaitForSafe(long retireEpoch)
    {
        var spin = new SpinWait();
        while (true)
        {
            // Spin on the barrier-free bound, and pay for a barrier only once it says the wait may be over.
            if (PeekSafeEpoch() > retireEpoch && ComputeSafeEpoch(out _) > retireEpoch)
            {
                return;
            }

            spin.SpinOnce(sleep1Threshold: 20);
        }
    }

    /// <summary>The sum over every thread's slot of the counter at <paramref name="offset"/> (racy: a figure it passed through).</summary>
    internal long SumCounter(int offset)
    {
        long sum = 0;
        foreach (nint seg in Volatile.Read(ref _segments))
        {
            if (seg != 0)
            {
                long* p = (long*)seg;
                for (int i = 0; i < SlotsPerSegment; i++)
                {
                    sum += Volatile.Read(ref p[(i * LongsPerSlot) + offset]);
                }
            }
        }

        return sum;
    }

    private long Scan(out bool readersActive)
    {
        long min = Volatile.Read(ref _current.Value);
        readersActive = false;
        nint[] segments = Volatile.Read(ref _segments);
        foreach (nint seg in segments)
        {
            if (seg == 0)
            {
                continue;
            }

            long* p = (long*)seg;
            for (int i = 0; i < SlotsPerSegment; i++)
            {
                long e = Volatile.Read(ref p[i * LongsPerSlot]);
                if (e != 0)
                {
                    readersActive = true;
                    if (e < min)
                    {
                        min = e;
                    }
                }
            }
        }

        return min;
    }

    /// <summary>Finds (or makes) the calling thread's slot and caches it for the next <see cref="Enter"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private long* CacheSlotOfCurrentThread()
    {
        int index = ThreadIndex.Current;
        nint[] segments = Volatile.Read(ref _segments);
        uint seg = (uint)index / SlotsPerSegment;
        long* slot = seg < (uint)segments.Length && segments[seg] != 0
            ? (long*)segments[seg] + ((uint)index % SlotsPerSegment * LongsPerSlot)
            : AddSegment(index);

        // The slot lives as long as this domain (its segment is held by _segmentArrays), and the cache is used only
        // when the domain entered is this one, so a cached pointer into a collected domain is never followed.
        t_cachedSlot = (nint)slot;
        t_cachedId = _id;
        return slot;
    }

    private long* AddSegment(int index)
    {
        int seg = index / SlotsPerSegment;
        lock (_growLock)
        {
            nint[] current = _segments;
            if (seg >= current.Length || current[seg] == 0)
            {
                // Pinned, so the slot addresses never move; one extra line so the first slot can be line-aligned.
                long[] arr = GC.AllocateArray<long>((SlotsPerSegment + 1) * LongsPerSlot, pinned: true);
                _segmentArrays.Add(arr);
                nint basePtr = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(arr));
                basePtr = (basePtr + 63) & ~(nint)63;
                var next = new nint[Math.Max(current.Length, seg + 1)];
                current.CopyTo(next, 0);
                next[seg] = basePtr;
                // Publishes a fully built array to lock-free readers and scanners.
                Volatile.Write(ref _segments, next);
            }

            return (long*)_segments[seg] + (index % SlotsPerSegment * LongsPerSlot);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ExitAndThrowClosed(long* slot)
    {
        Exit(slot);
        throw new ObjectDisposedException("ByteMap");
    }

    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedLong
    {
        [FieldOffset(64)]
        public long Value;
    }
}
