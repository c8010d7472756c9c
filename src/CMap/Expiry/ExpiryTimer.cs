using System;
using System.Threading;

namespace CMap;

/// <summary>
/// The timer that removes expired entries from an idle map: created from the map's <see cref="TimeProvider"/> by the
/// first write of an entry that expires (a map that never expires anything has no timer), ticking every
/// <see cref="CMapConfig.ExpirationScanInterval"/>. Each tick runs the map's check, which asks shards whose chunks
/// hold due entries for a sweep. With a fake provider, advancing its clock fires the tick, so tests drive it.
/// </summary>
internal sealed class ExpiryTimer : IDisposable
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Lock _lock = new();
    private Action? _tick;
    private ITimer? _timer;
    private bool _disposed;

    internal ExpiryTimer(TimeProvider time, TimeSpan interval)
    {
        _time = time;
        _interval = interval;
    }

    /// <summary>True once the timer runs.</summary>
    internal bool IsArmed => Volatile.Read(ref _timer) is not null;

    /// <summary>Binds the check each tick runs (once, by the map).</summary>
    internal void Bind(Action tick) => _tick = tick;

    /// <summary>Starts the timer if it is not running yet. Cheap once it runs: one volatile read.</summary>
    internal void Arm()
    {
        // Acquire: pairs with the Volatile.Write below, so a thread that sees the timer sees it fully built.
        if (Volatile.Read(ref _timer) is null)
        {
            ArmSlow();
        }
    }

    private void ArmSlow()
    {
        using Lock.Scope scope = _lock.EnterScope();
        if (_timer is not null || _disposed || _tick is null)
        {
            return;
        }

        // The callback holds only this object, never the map: the map's tick delegate is bound through a weak
        // reference, so a running timer does not keep an abandoned map alive.
        ITimer timer = _time.CreateTimer(static state => ((ExpiryTimer)state!).OnTick(), this, _interval, _interval);
        Volatile.Write(ref _timer, timer);
    }

    private void OnTick()
    {
        if (!Volatile.Read(ref _disposed))
        {
            _tick?.Invoke();
        }
    }

    /// <summary>Stops the timer for good. Idempotent; a tick already running finishes (it keeps the map alive).</summary>
    public void Dispose()
    {
        ITimer? timer;
        using (_lock.EnterScope())
        {
            Volatile.Write(ref _disposed, true);
            timer = _timer;
        }

        timer?.Dispose();
    }
}
