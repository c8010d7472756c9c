using System;
using System.Threading;

namespace CMap.Compaction;

/// <summary>
/// Decides on which thread and when a map's compaction passes run. The map calls <see cref="Start"/> once,
/// <see cref="Request"/> whenever a shard's dead bytes cross the thresholds (cheap, never blocks, may be called
/// under a shard lock), and <see cref="Dispose"/> before it frees memory. Tests inject
/// <see cref="ManualCompactionScheduler"/> to run passes inline and deterministically.
/// </summary>
internal abstract class CompactionScheduler : IDisposable
{
    /// <summary>Binds the scheduler to the pass it runs.</summary>
    internal abstract void Start(Action runPass);

    /// <summary>Asks for a pass soon.</summary>
    internal abstract void Request();

    /// <summary>Stops: when this returns, no pass is running and none will start.</summary>
    public abstract void Dispose();
}

/// <summary>
/// One background thread per map, asleep on an event until a shard asks for compaction: no polling loop.
/// Requests that arrive during a pass leave the event set, so they get a pass of their own.
/// </summary>
internal sealed class BackgroundCompactionScheduler : CompactionScheduler
{
    private readonly AutoResetEvent _wake = new(false);
    private Thread? _thread;
    private Action? _runPass;

    // Written once by Dispose (Volatile); read by the thread after each wake-up.
    private bool _stopping;

    internal override void Start(Action runPass)
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

    public override void Dispose()
    {
        Volatile.Write(ref _stopping, true);
        _wake.Set();
        if (_thread is not null && _thread != Thread.CurrentThread)
        {
            _thread.Join();
        }

        // _wake is deliberately not disposed: a writer that crossed a threshold just before the map was disposed may
        // still call Request(), and Set on a live event is harmless where Set on a disposed one would throw into
        // a write that has already succeeded. Its SafeHandle is released by finalization.
    }

    private void Loop()
    {
        while (true)
        {
            _wake.WaitOne();
            if (Volatile.Read(ref _stopping))
            {
                return;
            }

            // Take the signal before the pass: a request arriving during the pass sets the event again.
            Interlocked.Exchange(ref _signaled, 0);

            // The pass records its own failures in the map's statistics; nothing escapes to kill the thread.
            _runPass!();
        }
    }
}

/// <summary>Test scheduler: counts requests; the test runs the pass on its own thread with <see cref="RunPending"/>.</summary>
internal sealed class ManualCompactionScheduler : CompactionScheduler
{
    private Action? _runPass;
    private int _requests;
    private long _totalRequests;

    /// <summary>Requests since the map was created.</summary>
    internal long TotalRequests => Volatile.Read(ref _totalRequests);

    internal override void Start(Action runPass) => _runPass = runPass;

    internal override void Request()
    {
        Interlocked.Increment(ref _totalRequests);
        Interlocked.Exchange(ref _requests, 1);
    }

    /// <summary>Runs one pass if one was requested since the last. Returns whether it ran.</summary>
    internal bool RunPending()
    {
        if (Interlocked.Exchange(ref _requests, 0) == 0)
        {
            return false;
        }

        _runPass!();
        return true;
    }

    public override void Dispose()
    {
    }
}
