using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using CMap.Buffer;
using Xunit;

namespace CMap.Buffer.Tests;

public sealed unsafe class EpochDomainTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void MemoryRetiredWhileAReaderIsInsideIsNotSafeUntilItLeaves()
    {
        var domain = new EpochDomain();
        using var reader = new ParkedReader(domain);

        long r = domain.BumpForRetire();
        Assert.True(domain.ComputeSafeEpoch(out bool active) <= r, "a reader that entered before the retirement must hold it back");
        Assert.True(active);
        Assert.True(domain.PeekSafeEpoch() <= r, "the barrier-free bound sees a reader whose announce is long visible");

        reader.Leave();
        Assert.True(domain.ComputeSafeEpoch(out active) > r);
        Assert.False(active);
    }

    [Fact]
    public void AReaderOfOneDomainNeverHoldsBackAnother()
    {
        var a = new EpochDomain();
        var b = new EpochDomain();
        using var reader = new ParkedReader(a);
        long r = b.BumpForRetire();
        Assert.True(b.ComputeSafeEpoch(out bool active) > r, "domain B must not wait for a reader of domain A");
        Assert.False(active);
        var sw = Stopwatch.StartNew();
        b.WaitForSafe(b.BumpForRetire());
        Assert.True(sw.Elapsed < s_timeout);
    }

    [Fact]
    public void WaitForSafeEndsWhenTheEarlierReadersLeaveWhateverLaterReadersDo()
    {
        // Failure 2 at the epoch level: readers that enter after the wait began must never extend it.
        var domain = new EpochDomain();
        using var parked = new ParkedReader(domain);
        long r = domain.BumpForRetire();
        using var stop = new ManualResetEventSlim();
        long laterRegions = 0;
        var churn = new Thread(() =>
        {
            while (!stop.IsSet)
            {
                long* s = domain.Enter();
                domain.BumpForRetire(); // writers keep retiring meanwhile
                Thread.SpinWait(200);
                EpochDomain.Exit(s);
                Interlocked.Increment(ref laterRegions);
            }
        });
        churn.Start();
        try
        {
            var waiter = new Thread(() => domain.WaitForSafe(r));
            waiter.Start();
            Assert.False(waiter.Join(TimeSpan.FromMilliseconds(50)), "the wait must hold while the earlier reader is inside");
            parked.Leave();
            Assert.True(waiter.Join(s_timeout), "the wait must end once the earlier reader left, despite later readers");
            Assert.True(Interlocked.Read(ref laterRegions) > 0, "no later reader ran: the race was not exercised");
        }
        finally
        {
            stop.Set();
            Assert.True(churn.Join(s_timeout));
        }
    }

    [Fact]
    public void RegionsNestPerDomainAndOnlyTheOutermostExitClearsTheSlot()
    {
        var domain = new EpochDomain();
        var other = new EpochDomain();
        long* outer = domain.Enter();
        long* inner = domain.Enter();
        Assert.True(outer == inner);
        Assert.True(domain.IsEnteredByCurrentThread);
        Assert.False(other.IsEnteredByCurrentThread);
        EpochDomain.Exit(inner);
        Assert.True(domain.IsEnteredByCurrentThread);
        Assert.NotEqual(0, *outer);
        EpochDomain.Exit(outer);
        Assert.False(domain.IsEnteredByCurrentThread);
        Assert.Equal(0, *outer);
    }

    [Fact]
    public void AClosedDomainRefusesNewRegionsAndLeavesTheSlotIdle()
    {
        var domain = new EpochDomain();
        long* before = domain.Enter();
        EpochDomain.Exit(before);
        domain.Close();
        Assert.True(domain.IsClosed);
        Assert.Throws<ObjectDisposedException>(() => domain.Enter());
        Assert.False(domain.IsEnteredByCurrentThread);
        Assert.Equal(0, *before);
    }

    [Fact]
    public void AReaderDescheduledBetweenLoadingTheEpochAndAnnouncingItCannotEnterAfterDisposeFreed()
    {
        // [E6] The interleaving the dispose race in CI hit (a NullReferenceException: the reader probed a freed index
        // table): the reader loads the epoch, is descheduled, and meanwhile Dispose closes the domain, retires
        // memory, scans the slots (this reader's still idle) and frees. The reader then announces the stale epoch.
        // It must leave and throw, not go on to load pointers into freed memory.
        var domain = new EpochDomain();
        long loaded = domain.CurrentEpochForTests;
        domain.Close();
        long r = domain.BumpForRetire();
        Assert.True(domain.ComputeSafeEpoch(out bool active) > r, "nothing holds the retired memory back: Dispose frees it now");
        Assert.False(active);

        long* slot = null;
        Assert.Throws<ObjectDisposedException>(() => slot = domain.EnterAfterLoadingEpochForTests(loaded));
        Assert.False(domain.IsEnteredByCurrentThread, "the refused reader left its region");
        Assert.True(domain.ComputeSafeEpoch(out active) > r);
        Assert.False(active);

        // Without the close the same stale announce is an ordinary entry: it holds back what is retired from now on.
        var open = new EpochDomain();
        long early = open.CurrentEpochForTests;
        long* s = open.EnterAfterLoadingEpochForTests(early);
        long later = open.BumpForRetire();
        Assert.True(open.ComputeSafeEpoch(out active) <= later);
        Assert.True(active);
        EpochDomain.Exit(s);
        Assert.True(open.ComputeSafeEpoch(out _) > later);
    }

    [Fact]
    public void ThreadsGetDistinctCacheLineSlots()
    {
        var domain = new EpochDomain();
        long* a = null, b = null;
        var t1 = new Thread(() => { long* s = domain.Enter(); a = s; EpochDomain.Exit(s); });
        var t2 = new Thread(() => { long* s = domain.Enter(); b = s; EpochDomain.Exit(s); });
        t1.Start();
        Assert.True(t1.Join(s_timeout));
        t2.Start();
        Assert.True(t2.Join(s_timeout));
        Assert.True(a != null && b != null);
        Assert.Equal(0, (long)a % 64);
        Assert.True(a == b || Math.Abs((long)a - (long)b) >= 64);
    }

    [Fact]
    public void TheReaderFenceIsTakenExactlyWhereTheArchitectureNeedsIt()
    {
        // Failure 4: x86/x64 rely on the reclaimer's process-wide barrier and pay nothing; every other architecture
        // (Arm64 first: stlr then ldapr may be reordered) takes a full fence after the announce.
        bool x86 = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86;
        Assert.Equal(!x86, EpochDomain.ReaderFenceRequired);
    }
}
