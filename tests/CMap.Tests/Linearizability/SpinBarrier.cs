using System;
using System.Diagnostics;
using System.Threading;

namespace CMap.Tests.Linearizability;

/// <summary>
/// A reusable barrier that spins (yielding, never sleeping) so that the workers of one history leave it within
/// microseconds of each other: a kernel wait would wake them tens of microseconds apart, longer than a whole history
/// of map operations, and they would hardly ever overlap. Every wait is bounded: past the timeout, or once any
/// participant gave up (<see cref="Abort"/>), a waiter throws instead of spinning on.
/// </summary>
internal sealed class SpinBarrier(int participants, TimeSpan timeout, TimeSpan pureSpin)
{
    private readonly long _timeoutTicks = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
    private readonly long _pureSpinTicks = (long)(pureSpin.TotalSeconds * Stopwatch.Frequency);
    private int _arrived;
    private int _phase;
    private int _aborted;

    public bool Aborted => Volatile.Read(ref _aborted) != 0;

    /// <summary>Releases every waiter now and for good (a participant failed).</summary>
    public void Abort() => Volatile.Write(ref _aborted, 1);

    public void SignalAndWait()
    {
        int phase = Volatile.Read(ref _phase);
        if (Interlocked.Increment(ref _arrived) == participants)
        {
            // The last one in: reset the count before opening the next phase, so an early arriver of that phase
            // counts from zero.
            Volatile.Write(ref _arrived, 0);
            Volatile.Write(ref _phase, phase + 1);
            return;
        }

        long now = Stopwatch.GetTimestamp();
        long deadline = now + _timeoutTicks;
        long pureUntil = now + _pureSpinTicks;

        // First on the processor, without yielding it: a waiter that keeps its core leaves the barrier the moment the
        // last one arrives, so two workers on two cores start together. Then yielding, so that a participant that is
        // not running (more threads than cores) gets the core and arrives.
        while (Volatile.Read(ref _phase) == phase && Stopwatch.GetTimestamp() < pureUntil)
        {
            Thread.SpinWait(16);
        }

        var spin = default(SpinWait);
        while (Volatile.Read(ref _phase) == phase)
        {
            if (Aborted)
            {
                throw new OperationCanceledException("another participant of the spin barrier failed");
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                Abort();
                throw new TimeoutException($"spin barrier phase {phase}: not every participant arrived within {timeout.TotalSeconds} s");
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
