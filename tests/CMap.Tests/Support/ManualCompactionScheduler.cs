using System;
using System.Threading;
using CMap.Compaction;

namespace CMap.Tests.Support;

/// <summary>Test scheduler: counts requests; the test runs the pass on its own thread with <see cref="RunPending"/>.</summary>
internal sealed class ManualCompactionScheduler : CompactionScheduler
{
    private Func<bool>? _runPass;
    private int _requests;
    private long _totalRequests;

    /// <summary>Requests since the map was created.</summary>
    internal long TotalRequests => Volatile.Read(ref _totalRequests);

    internal override void Start(Func<bool> runPass) => _runPass = runPass;

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

        if (_runPass!())
        {
            // Deferred: keep the request, as the background scheduler retries a deferred pass.
            Interlocked.Exchange(ref _requests, 1);
        }

        return true;
    }

    internal override void Stop(bool wait)
    {
    }
}
