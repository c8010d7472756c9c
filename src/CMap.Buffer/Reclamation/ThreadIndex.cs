using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;

namespace CMap.Buffer;

/// <summary>
/// A small dense number per live thread, shared by every <see cref="EpochDomain"/> in the process: a thread's slot in
/// any domain is at its index there, so entering a domain costs an array index, not a lookup. Numbers of dead
/// threads are reused [E5], which keeps every domain's slot array as small as the largest number of threads that
/// were ever alive at once.
/// </summary>
internal static class ThreadIndex
{
    private static readonly Lock s_lock = new();
    private static readonly Stack<int> s_free = new();
    private static int s_next;

    // The index plus one; 0 until the thread first asks. A thread-static int is one TLS load on the fast path.
    [ThreadStatic]
    private static int t_indexPlusOne;

    // Held only by the thread-static below: when the thread dies it becomes unreachable and its finalizer hands
    // the index back.
    [ThreadStatic]
    private static Lease? t_lease;

    /// <summary>The calling thread's index, assigned on first use.</summary>
    internal static int Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int i = t_indexPlusOne - 1;
            return i >= 0 ? i : Assign();
        }
    }

    /// <summary>Indices handed out so far (the high-water mark): every domain's slot count stays below it.</summary>
    internal static int HighWater => Volatile.Read(ref s_next);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Assign()
    {
        int index;
        lock (s_lock)
        {
            index = s_free.Count > 0 ? s_free.Pop() : s_next++;
        }

        t_lease = new Lease(index);
        t_indexPlusOne = index + 1;
        return index;
    }

    private sealed class Lease(int index)
    {
        // [E5] A dead thread is never inside a protected region: every region is left by a finally or by code that
        // cannot throw, so the dead thread's slot in every domain already reads 0 and the next owner starts idle.
        ~Lease()
        {
            lock (s_lock)
            {
                s_free.Push(index);
            }
        }
    }
}
