using System;
using System.Diagnostics;
using System.Threading;

namespace CMap.Compare;

/// <summary>Per-thread tallies of a timed phase.</summary>
internal readonly record struct ThreadCounts(long Operations, long Misses);

/// <summary>Tells the threads of a timed phase when to stop.</summary>
internal sealed class StopSignal
{
    private volatile bool _stopped;

    public bool Stopped => _stopped;

    public void Stop() => _stopped = true;
}

/// <summary>What a timed phase did, summed over its threads.</summary>
internal readonly record struct PhaseOutcome(double Seconds, long Operations, long Misses, GcDelta Gc, CpuLoad? Cpu, ThreadCounts[] PerThread)
{
    public double OpsPerSecond => Operations / Seconds;
}

/// <summary>
/// Runs a body on dedicated threads for a fixed time. The threads start together on a barrier, loop until the
/// stop signal, and the phase's time runs from the barrier to the signal. The machine's CPU is sampled around it.
/// </summary>
internal static class TimedPhase
{
    public static PhaseOutcome Run(string label, int threadCount, double seconds, WorkerProgress progress, Func<int, StopSignal, ThreadCounts> body)
    {
        var stop = new StopSignal();
        var counts = new ThreadCounts[threadCount];
        using var start = new Barrier(threadCount + 1);
        var threads = new Thread[threadCount];
        for (int i = 0; i < threadCount; i++)
        {
            int index = i;
            threads[i] = new Thread(() =>
            {
                start.SignalAndWait();
                counts[index] = body(index, stop);
            })
            {
                IsBackground = true,
                Name = $"{label} {index}",
            };
            threads[i].Start();
        }

        GcSnapshot gcBefore = GcSnapshot.Take();
        CpuSample? cpuBefore = CpuSample.Take();
        start.SignalAndWait();
        long begin = Stopwatch.GetTimestamp();
        TimeSpan length = TimeSpan.FromSeconds(seconds);
        TimeSpan elapsed;
        while ((elapsed = Stopwatch.GetElapsedTime(begin)) < length)
        {
            progress.Report(label, elapsed / length);
            Thread.Sleep(TimeSpan.FromMilliseconds(Math.Clamp((length - elapsed).TotalMilliseconds, 1, 100)));
        }

        stop.Stop();
        elapsed = Stopwatch.GetElapsedTime(begin);
        foreach (Thread t in threads)
        {
            t.Join();
        }

        CpuLoad? cpu = cpuBefore is { } a && CpuSample.Take() is { } b ? b.Since(a, threadCount) : null;
        GcDelta gc = GcSnapshot.Take().Since(gcBefore);
        long ops = 0;
        long misses = 0;
        foreach (ThreadCounts c in counts)
        {
            ops += c.Operations;
            misses += c.Misses;
        }

        return new PhaseOutcome(elapsed.TotalSeconds, ops, misses, gc, cpu, counts);
    }
}
