using System;
using System.Threading;

namespace CMap.Compaction;

/// <summary>
/// Decides on which thread and when a map's compaction passes run. The map calls <see cref="Start"/> once,
/// <see cref="Request"/> whenever a shard's dead bytes cross the thresholds (cheap, never blocks, may be called
/// under a shard lock), and <see cref="Stop"/> before it frees memory. Tests inject a manual scheduler (in the test
/// project) to run passes inline and deterministically.
/// </summary>
internal abstract class CompactionScheduler : IDisposable
{
    /// <summary>
    /// Binds the scheduler to the pass it runs. The pass returns true when it deferred itself (readers hold back
    /// retired memory, so compacting now would only add copies nobody can free): the scheduler then runs it again
    /// after a short interval even if no new request arrives.
    /// </summary>
    internal abstract void Start(Func<bool> runPass);

    /// <summary>Asks for a pass soon.</summary>
    internal abstract void Request();

    /// <summary>
    /// Stops. With <paramref name="wait"/>, returns once no pass is running and none will start. Without it (a
    /// finalizer, which must never wait), only asks the thread to stop: the pass it may be in holds the map alive,
    /// so a finalizer never runs while a pass does.
    /// </summary>
    internal abstract void Stop(bool wait);

    /// <summary>Stops and waits (<see cref="Stop"/> with wait).</summary>
    public void Dispose() => Stop(wait: true);
}

/// <summary>
/// One background thread per map, asleep on an event until a shard asks for compaction: no polling loop.
/// Requests that arrive during a pass leave the event set, so they get a pass of their own.
/// </summary>
internal sealed class BackgroundCompactionScheduler : CompactionScheduler
{
    private readonly AutoResetEvent _wake = new(false);
    private Thread? _thread;
    private Func<bool>? _runPass;

    /// <summary>How soon a deferred pass is retried.</summary>
    internal static readonly TimeSpan DeferredRetry = TimeSpan.FromMilliseconds(10);

    // Written once by Dispose (Volatile); read by the thread after each wake-up.
    private bool _stopping;

    internal override void Start(Func<bool> runPass)
    {
        _runPass = runPass;
        _thread = new Thread(Loop) { IsBackground = true, Name = "CMap compactor" };
        _thread.Start();
    }

    // 1 from the first Request after a pass starts until the thread takes it: coalesces a burst of requests into
    // one Set (a kernel transition), instead of one per request. Interlocked on both sides.
    private int _signaled;

    internal override void Request()
    {
        if (Interlocked.Exchange(ref _signaled, 1) == 0)
        {
            _wake.Set();
        }
    }

    internal override void Stop(bool wait)
    {
        Volatile.Write(ref _stopping, true);
        _wake.Set();
        if (wait && _thread is not null && _thread != Thread.CurrentThread)
        {
            _thread.Join();
        }

        // _wake is deliberately not disposed: a writer that crossed a threshold just before the map was disposed may
        // still call Request(), and Set on a live event is harmless where Set on a disposed one would throw into
        // a write that has already succeeded. Its SafeHandle is released by finalization.
    }

    private void Loop()
    {
        bool deferred = false;
        while (true)
        {
            // A deferred pass is retried after a short interval; otherwise sleep until a shard asks.
            _wake.WaitOne(deferred ? DeferredRetry : Timeout.InfiniteTimeSpan);
            if (Volatile.Read(ref _stopping))
            {
                return;
            }

            // Take the signal before the pass: a request arriving during the pass sets the event again.
            Interlocked.Exchange(ref _signaled, 0);

            // The pass records its own failures in the map's statistics; nothing escapes to kill the thread.
            deferred = _runPass!();
        }
    }
}
