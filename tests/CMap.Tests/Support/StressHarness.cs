using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using Xunit;

namespace CMap.Tests.Support;

/// <summary>
/// Runs a set of named threads that start together (a <see cref="Barrier"/>), collects their failures instead of
/// letting them crash the process, and bounds every wait with a timeout.
/// </summary>
public sealed class StressHarness
{
    /// <summary>The longest any start barrier or join waits. A hang fails the test instead of hanging it.</summary>
    public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(60);

    private readonly List<Thread> _threads = [];
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly ManualResetEventSlim _stopped = new(false);
    private Barrier? _barrier;
    private int _stop;

    /// <summary>True once <see cref="Stop"/> was called or any thread failed.</summary>
    public bool Stopping => Volatile.Read(ref _stop) != 0;

    public int FailureCount => _failures.Count;

    public void Stop()
    {
        Volatile.Write(ref _stop, 1);
        _stopped.Set();
    }

    /// <summary>
    /// Paces a thread: waits on the stop signal for at most <paramref name="interval"/>, so a stop or a failure ends
    /// the wait at once. Returns true when the harness is stopping.
    /// </summary>
    public bool Pause(TimeSpan interval) => _stopped.Wait(interval);

    /// <summary><see cref="Pause(TimeSpan)"/> in milliseconds.</summary>
    public bool Pause(int milliseconds) => _stopped.Wait(milliseconds);

    /// <summary>Records a failure (kept to the first 50) and stops every thread.</summary>
    public void Fail(string message)
    {
        if (_failures.Count < 50)
        {
            _failures.Enqueue(message);
        }

        Stop();
    }

    /// <summary>Adds a thread; it runs <paramref name="body"/> once every thread has been started.</summary>
    public Thread Add(string name, Action body)
    {
        var t = new Thread(() => Run(name, body)) { IsBackground = true, Name = name };
        _threads.Add(t);
        return t;
    }

    /// <summary>Starts every thread and releases them at once.</summary>
    public void Start()
    {
        _barrier = new Barrier(_threads.Count + 1);
        foreach (Thread t in _threads)
        {
            t.Start();
        }

        if (!_barrier.SignalAndWait(WaitTimeout))
        {
            Fail("main: the start barrier timed out");
        }
    }

    /// <summary>Lets the threads run until <paramref name="duration"/> passed or a thread failed.</summary>
    public void RunFor(TimeSpan duration) => Pause(duration);

    /// <summary>Waits for the given threads (they must end by themselves), failing on timeout.</summary>
    public void Join(IEnumerable<Thread> threads)
    {
        foreach (Thread t in threads)
        {
            if (!t.Join(WaitTimeout))
            {
                Fail($"{t.Name} did not finish within {WaitTimeout.TotalSeconds} s (hang or deadlock)");
            }
        }
    }

    /// <summary>Stops every thread and waits for all of them.</summary>
    public void StopAndJoin()
    {
        Stop();
        Join(_threads);
        _barrier?.Dispose();
        _barrier = null;
    }

    /// <summary>Fails the test with every recorded failure.</summary>
    public void AssertNoFailures(string context)
    {
        if (!_failures.IsEmpty)
        {
            Assert.Fail($"{context}: {_failures.Count} failure(s):\n" + string.Join("\n", _failures.Take(20)));
        }
    }

    private void Run(string name, Action body)
    {
        try
        {
            if (!_barrier!.SignalAndWait(WaitTimeout))
            {
                Fail($"{name}: the start barrier timed out");
                return;
            }

            body();
        }
#pragma warning disable CA1031 // A stress thread must report every exception, not crash the test host.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Fail($"{name}: unexpected exception {e}");
        }
    }
}
