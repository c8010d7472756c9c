using System;
using System.Threading;

namespace CMap.Benchmarks.Infrastructure;

/// <summary>
/// Runs one body on <see cref="Count"/> threads per call: the calling thread is worker 0 and Count - 1 dedicated
/// threads, created once in [GlobalSetup], are the others. One call costs two <see cref="Barrier"/> phases (start and
/// finish); with Count = 1 there is no coordination at all. Bodies are delegates created once in setup, so a call
/// allocates nothing.
/// </summary>
internal sealed class WorkerGroup : IDisposable
{
    private readonly Thread[] _threads;
    private readonly Barrier? _barrier;
    private Action<int>? _body;
    private volatile bool _stop;

    public WorkerGroup(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        Count = count;
        _threads = new Thread[count - 1];
        if (count == 1)
        {
            return;
        }

        _barrier = new Barrier(count);
        for (int i = 1; i < count; i++)
        {
            int id = i;
            var t = new Thread(() => Loop(id)) { IsBackground = true, Name = $"bench-worker-{id}" };
            _threads[i - 1] = t;
            t.Start();
        }
    }

    public int Count { get; }

    public void Run(Action<int> body)
    {
        if (_barrier is null)
        {
            body(0);
            return;
        }

        _body = body;
        _barrier.SignalAndWait(); // start
        body(0);
        _barrier.SignalAndWait(); // finish: every worker's slice is done
    }

    public void Dispose()
    {
        if (_barrier is null)
        {
            return;
        }

        _stop = true;
        _barrier.SignalAndWait();
        foreach (Thread t in _threads)
        {
            t.Join();
        }

        _barrier.Dispose();
    }

    private void Loop(int id)
    {
        while (true)
        {
            _barrier!.SignalAndWait();
            if (_stop)
            {
                return;
            }

            _body!(id);
            _barrier.SignalAndWait();
        }
    }
}
