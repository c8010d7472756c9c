using System;
using System.Threading;

namespace CMap.Tests.Support;

/// <summary>
/// A manual clock (timestamps are .NET ticks, 10^7 per second, from 2000-01-01 UTC) that can hold one chosen thread
/// inside its next clock read: <see cref="TrapNextReadOnThisThread"/> arms it, the thread's next
/// <see cref="GetTimestamp"/> sets <see cref="Trapped"/> and waits (at most 30 s) for <see cref="Release"/>. That parks a
/// reader at the exact point where the map's read core asks for the time, so a test can run a writer's step in between.
/// Its timers never fire (the tests that use it need no sweep).
/// </summary>
public sealed class GatedTimeProvider : TimeProvider, IDisposable
{
    private static readonly TimeSpan s_trapTimeout = TimeSpan.FromSeconds(30);
    private readonly long _start = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks;
    private long _ticks;
    private int _trapThread;

    public GatedTimeProvider() => _ticks = _start;

    /// <summary>Set when the trapped thread is inside its clock read.</summary>
    public ManualResetEventSlim Trapped { get; } = new();

    /// <summary>Lets the trapped thread go on.</summary>
    public ManualResetEventSlim Release { get; } = new();

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>Sets the clock to <paramref name="sinceStart"/> after its start.</summary>
    public void Set(TimeSpan sinceStart) => Volatile.Write(ref _ticks, _start + sinceStart.Ticks);

    public void TrapNextReadOnThisThread() => Volatile.Write(ref _trapThread, Environment.CurrentManagedThreadId);

    public override long GetTimestamp()
    {
        int me = Environment.CurrentManagedThreadId;
        if (Volatile.Read(ref _trapThread) == me && Interlocked.CompareExchange(ref _trapThread, 0, me) == me)
        {
            Trapped.Set();
            if (!Release.Wait(s_trapTimeout))
            {
                throw new TimeoutException("GatedTimeProvider: the trapped clock read was never released");
            }
        }

        return Volatile.Read(ref _ticks);
    }

    public override DateTimeOffset GetUtcNow() => new(Volatile.Read(ref _ticks), TimeSpan.Zero);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new NeverTimer();

    public void Dispose()
    {
        Trapped.Dispose();
        Release.Dispose();
    }

    private sealed class NeverTimer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public System.Threading.Tasks.ValueTask DisposeAsync() => default;
    }
}
