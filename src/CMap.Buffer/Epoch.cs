using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace CMap.Buffer;

/// <summary>
/// Process-wide epoch-based reclamation, in the style of FASTER's LightEpoch but with a plain-store announce.
/// Each thread owns one 64-byte slot. A reader announces the global epoch in its slot before it loads any
/// shared pointer, and clears the slot when done. Memory unpublished before epoch <c>r</c> is freed only once
/// no slot holds an epoch <c>≤ r</c>. The protocol and its invariants (E1–E5) are in docs/concurrency.md.
/// </summary>
internal static unsafe class Epoch
{
    private const int SlotsPerSegment = 64;
    private const int LongsPerSlot = 8; // one cache line per thread: no false sharing between readers

    // [E4] The global epoch. Starts at 1 because a slot value of 0 means "not in a protected region".
    // Writers: BumpForRetire only, with Interlocked.Increment (a full fence). Readers: Volatile.Read.
    private static PaddedLong s_current = new() { Value = 1 };

    // Registry of slots. Writers: Register and ReleaseSlot, under s_registryLock. Scanners read s_segments
    // with Volatile.Read; it is replaced copy-on-write so a scan never sees a half-built array.
    private static readonly Lock s_registryLock = new();
    private static nint[] s_segments = [];
    private static readonly List<long[]> s_segmentArrays = [];
    private static readonly Stack<int> s_freeSlots = new();
    private static int s_slotCount;

    [ThreadStatic]
    private static EpochThread? t_thread;

    /// <summary>True when the calling thread is inside a protected region.</summary>
    internal static bool IsProtected => t_thread is { Depth: > 0 };

    /// <summary>
    /// Enters a protected region: until the matching <see cref="Exit"/>, nothing unpublished after this call
    /// returns is freed. Regions nest; only the outermost announces.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static EpochThread Enter()
    {
        EpochThread t = t_thread ?? Register();
        if (t.Depth++ == 0)
        {
            // [E1] Announce. Volatile.Write keeps the JIT from sinking this store below the loads that follow
            // (on Arm64 stlr is also ordered before a later ldar). x86 may still hold the store in its store
            // buffer while later loads run; the reclaimer's process-wide barrier [E3] drains it before any scan.
            // If this store were reordered after the loads with no such barrier, a reclaimer could miss this
            // reader and free a table or chunk the reader is about to dereference.
            Volatile.Write(ref *t.Slot, Volatile.Read(ref s_current.Value));
        }

        return t;
    }

    /// <summary>Leaves a protected region entered with <see cref="Enter"/> on the same thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Exit(EpochThread t)
    {
        if (--t.Depth == 0)
        {
            // [E2] Release store: every read of shared memory in the region happens before the slot reads 0.
            // Were a read reordered after this store, a reclaimer could free memory that read still touches.
            Volatile.Write(ref *t.Slot, 0);
        }
    }

    /// <summary>
    /// Call after unpublishing memory (the last pointer to it replaced with a release store) and before handing
    /// it to a <see cref="RetireList"/>. Returns the retirement epoch <c>r</c>: the memory is safe to free once
    /// <see cref="ComputeSafeEpoch"/> returns a value greater than <c>r</c>.
    /// </summary>
    internal static long BumpForRetire() =>
        // [E4] Interlocked is a full fence: the unpublishing store is visible before the new epoch is, so any
        // reader that announces the new epoch loads the new pointer.
        Interlocked.Increment(ref s_current.Value) - 1;

    /// <summary>
    /// Returns the smallest epoch announced by any thread in a protected region, or the current epoch if none is.
    /// Everything retired at an epoch strictly below the result may be freed.
    /// </summary>
    internal static long ComputeSafeEpoch(out bool readersActive)
    {
        // [E3] Asymmetric fence: forces every thread's store buffer to drain, so a reader whose announce [E1] is
        // not visible after this point has not yet done the loads it protects, and those loads will see the
        // already-unpublished pointers. Without it an x86 reader's announce could sit unseen in its store buffer.
        Interlocked.MemoryBarrierProcessWide();
        long min = Volatile.Read(ref s_current.Value);
        readersActive = false;
        nint[] segments = Volatile.Read(ref s_segments);
        foreach (nint seg in segments)
        {
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

    /// <summary>
    /// Blocks until everything retired at <paramref name="retireEpoch"/> is safe to free.
    /// Must not be called from inside a protected region, which would wait on itself.
    /// </summary>
    internal static void WaitForSafe(long retireEpoch)
    {
        if (IsProtected)
        {
            ThrowHelper.ThrowInvalidOperation("A CMap cannot be disposed from inside one of its own read callbacks.");
        }

        var spin = new SpinWait();
        while (ComputeSafeEpoch(out _) <= retireEpoch)
        {
            spin.SpinOnce(sleep1Threshold: 20);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static EpochThread Register()
    {
        int index;
        long* slot;
        lock (s_registryLock)
        {
            index = s_freeSlots.Count > 0 ? s_freeSlots.Pop() : s_slotCount++;
            int segment = index / SlotsPerSegment;
            if (segment >= s_segmentArrays.Count)
            {
                // Pinned, so the slot addresses never move; one extra line so the first slot can be line-aligned.
                long[] arr = GC.AllocateArray<long>((SlotsPerSegment + 1) * LongsPerSlot, pinned: true);
                s_segmentArrays.Add(arr);
                nint basePtr = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(arr));
                basePtr = (basePtr + 63) & ~(nint)63;
                var next = new nint[s_segments.Length + 1];
                s_segments.CopyTo(next, 0);
                next[^1] = basePtr;
                // Publishes a fully built array to lock-free scanners.
                Volatile.Write(ref s_segments, next);
            }

            slot = (long*)s_segments[segment] + (index % SlotsPerSegment * LongsPerSlot);
        }

        var t = new EpochThread(slot, index);
        t_thread = t;
        return t;
    }

    private static void ReleaseSlot(int index)
    {
        lock (s_registryLock)
        {
            s_freeSlots.Push(index);
        }
    }

    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedLong
    {
        [FieldOffset(64)]
        public long Value;
    }

    /// <summary>
    /// A thread's slot. Held only by a thread-static, so it becomes unreachable when the thread dies and its
    /// finalizer hands the slot back for reuse [E5].
    /// </summary>
    internal sealed class EpochThread
    {
        internal readonly long* Slot;
        internal int Depth;
        private readonly int _index;

        internal EpochThread(long* slot, int index)
        {
            Slot = slot;
            _index = index;
        }

        ~EpochThread()
        {
            // A dying thread is never inside a region, but clear the slot so a reused one starts idle.
            Volatile.Write(ref *Slot, 0);
            ReleaseSlot(_index);
        }
    }
}
