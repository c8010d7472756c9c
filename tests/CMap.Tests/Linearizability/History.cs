using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using CMap.Tests.Support;

namespace CMap.Tests.Linearizability;

/// <summary>One history's plan and, once run, its record: per thread, the operations in program order.</summary>
internal sealed class History(int index, int keyCount, Op[][] threads)
{
    public int Index { get; } = index;

    public int KeyCount { get; } = keyCount;

    public Op[][] Threads { get; } = threads;

    /// <summary>The global id of key slot <paramref name="k"/>: fresh keys per history, so each starts absent.</summary>
    public int KeyId(int k) => (Index * HistoryRecorder.MaxKeys) + k;

    /// <summary>Key <paramref name="k"/>'s operations, thread by thread in program order (what the checker needs).</summary>
    public Op[] OpsOf(int k)
    {
        var ops = new List<Op>();
        foreach (Op[] thread in Threads)
        {
            foreach (Op op in thread)
            {
                if (op.Key == k)
                {
                    ops.Add(op);
                }
            }
        }

        return [.. ops];
    }
}

/// <summary>What the recorder is asked to do.</summary>
internal sealed record RecorderSettings
{
    public required int Seed { get; init; }

    public required int Histories { get; init; }

    public int Threads { get; init; } = 4;

    /// <summary>Worker 0 deletes each history's keys once the next one has started (off for a budget run, whose map must fill up to evict).</summary>
    public bool DeletePreviousKeys { get; init; } = true;

    public int MinOpsPerThread { get; init; } = 6;

    public int MaxOpsPerThread { get; init; } = 12;

    public int MinKeys { get; init; } = 2;

    public int MaxKeys { get; init; } = 4;

    /// <summary>Writes carry expiry (absolute or sliding, a few milliseconds of the map's clock) half of the time.</summary>
    public bool Expiry { get; init; }

    /// <summary>A background thread calls <see cref="ByteMap.Compact"/> in a loop while the histories run.</summary>
    public bool CompactInLoop { get; init; } = true;

    /// <summary>Two thirds of the callback and buffer-writer operations are slow consumers (<see cref="Op.Slow"/>).</summary>
    public bool SlowConsumers { get; init; } = true;

    /// <summary>The background thread takes at most this many steps per history (then waits for the next one).</summary>
    public int MaxBackgroundStepsPerHistory { get; init; } = 32;

    /// <summary>How long a barrier waiter spins without yielding its core before it starts yielding.</summary>
    public TimeSpan PureSpin { get; init; } = TimeSpan.FromMilliseconds(0.2);

    /// <summary>When set, the background thread also advances this clock by <see cref="ClockStep"/> at each of its steps.</summary>
    public Microsoft.Extensions.Time.Testing.FakeTimeProvider? Clock { get; init; }

    public TimeSpan ClockStep { get; init; } = TimeSpan.FromMilliseconds(0.25);
}
