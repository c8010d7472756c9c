using System;
using System.Diagnostics;
using System.Threading;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Linearizability;

/// <summary>
/// Sliding expiry against the lossy register (expiry is a delete that may happen at any moment, and nothing else), on
/// one interleaving forced step by step: a reader is held right after it read the clock, as a preemption there would
/// hold it, while the clock passes the entry's deadline and another read reports the entry expired.
/// </summary>
public sealed class SlidingExpiryLinearizabilityTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void AnEntryAReadReportedExpiredNeverComesBack()
    {
        var clock = new HoldingClock();
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 1,
            Seed = 1,
            TimeProvider = clock,
            ExpirationScanInterval = CMapConfig.MaxExpirationScanInterval, // no sweep: only reads decide
            BackgroundCompaction = false,
        });
        byte[] key = "k"u8.ToArray();
        byte[] value = "v"u8.ToArray();
        const long window = 100_000; // 100 ms at 1 MHz; the map records an access once it lags by window / 8
        const long written = 1_000_000;

        // 1. The write: last access = written, so the entry leaves at written + window unless a read records a later one.
        clock.Set(written);
        long t = 0;
        var ops = new Op[4];
        ops[0] = Timed(ref t, OpKind.Insert, 0, () => (map.Insert(key, value, CMapEntryOptions.Sliding(TimeSpan.FromMilliseconds(100))), RegisterModel.Absent), arg: 0);

        // 2. Reader A reads the clock 20 ms later (alive, and lagging enough to record the access) and is held there.
        clock.Set(written + 20_000);
        Op readA = default;
        var reader = new Thread(() =>
        {
            long call = Next(ref t);
            clock.HoldNextReadOnThisThread();
            byte[]? got = map.Get(key);
            readA = new Op { Kind = OpKind.Get, Thread = 1, Call = call, Return = Next(ref t), Value = got is null ? RegisterModel.Absent : (sbyte)0 };
        }) { IsBackground = true, Name = "held reader" };
        reader.Start();
        Assert.True(clock.WaitUntilHeld(s_timeout), "the reader never read the clock");

        // 3. The clock reaches written + window; reader B sees the recorded access (still `written`): expired.
        clock.Set(written + window);
        ops[1] = Timed(ref t, OpKind.Get, 2, () => (false, map.Get(key) is null ? RegisterModel.Absent : (sbyte)0));

        // 4. A goes on: its access (written + 20 ms) lands after B's verdict, and A returns the value.
        clock.Release();
        Assert.True(reader.Join(s_timeout), "the held reader did not finish");
        ops[2] = readA;

        // 5. Reader C, after B returned and with no write since: the register was deleted (B saw absent), so absent.
        ops[3] = Timed(ref t, OpKind.Get, 2, () => (false, map.Get(key) is null ? RegisterModel.Absent : (sbyte)0));

        var checker = new LinearizabilityChecker(100_000);
        Verdict verdict = checker.Check(ops, lossy: true);
        output.WriteLine(checker.Describe(ticksPerSecond: 0));
        Assert.True(
            verdict == Verdict.Linearizable,
            "NOT LINEARIZABLE (lossy register): a read reported the sliding entry expired, and a later read, with no write in between, " +
            "returned it again: the held reader's access was recorded after the expiry verdict and moved the deadline back past it.\n" + checker.Describe(ticksPerSecond: 0));
    }

    /// <summary>Logical ticks for the forced interleaving: every call and return gets the next one, so the order is exact.</summary>
    private static long Next(ref long t) => Interlocked.Increment(ref t);

    private static Op Timed(ref long t, OpKind kind, int thread, Func<(bool Flag, sbyte Value)> body, sbyte arg = 0)
    {
        long call = Next(ref t);
        (bool flag, sbyte value) = body();
        return new Op { Kind = kind, Thread = (byte)thread, Arg = arg, Call = call, Return = Next(ref t), Flag = flag, Value = value };
    }

    /// <summary>
    /// A clock the test sets, at 1 MHz. One thread may be held right after it sampled the time, before the sample
    /// reaches the map: what a preemption between the clock read and its use does.
    /// </summary>
    private sealed class HoldingClock : TimeProvider
    {
        private readonly ManualResetEventSlim _held = new(false);
        private readonly ManualResetEventSlim _release = new(false);
        private long _now;
        private int _holdThread;

        public override long TimestampFrequency => 1_000_000;

        public void Set(long now) => Volatile.Write(ref _now, now);

        public void HoldNextReadOnThisThread() => Volatile.Write(ref _holdThread, Environment.CurrentManagedThreadId);

        public bool WaitUntilHeld(TimeSpan timeout) => _held.Wait(timeout);

        public void Release() => _release.Set();

        public override long GetTimestamp()
        {
            long now = Volatile.Read(ref _now);
            if (Volatile.Read(ref _holdThread) == Environment.CurrentManagedThreadId)
            {
                Volatile.Write(ref _holdThread, 0);
                _held.Set();
                if (!_release.Wait(s_timeout))
                {
                    throw new TimeoutException("the test never released the held clock read");
                }
            }

            return now;
        }

        public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(Volatile.Read(ref _now) * (TimeSpan.TicksPerSecond / TimestampFrequency));
    }
}
