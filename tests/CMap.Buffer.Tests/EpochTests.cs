using System;
using System.Threading;
using CMap.Buffer;
using Xunit;

namespace CMap.Buffer.Tests;

public sealed unsafe class EpochTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void MemoryRetiredWhileAReaderIsInsideIsNotSafeUntilItLeaves()
    {
        using var entered = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        var reader = new Thread(() =>
        {
            Epoch.EpochThread t = Epoch.Enter();
            entered.Set();
            leave.Wait(s_timeout);
            Epoch.Exit(t);
        });
        reader.Start();
        Assert.True(entered.Wait(s_timeout));

        long r = Epoch.BumpForRetire();
        Assert.True(Epoch.ComputeSafeEpoch(out bool active) <= r, "a reader that entered before the retirement must hold it back");
        Assert.True(active);

        leave.Set();
        Assert.True(reader.Join(s_timeout));
        // Other tests' readers may come and go, but none of them can hold an epoch at or below r for long.
        var deadline = DateTime.UtcNow + s_timeout;
        while (Epoch.ComputeSafeEpoch(out _) <= r)
        {
            Assert.True(DateTime.UtcNow < deadline, "grace period never ended");
            Thread.Yield();
        }
    }

    [Fact]
    public void RegionsNestAndOnlyTheOutermostExitClearsTheSlot()
    {
        Epoch.EpochThread outer = Epoch.Enter();
        Epoch.EpochThread inner = Epoch.Enter();
        Assert.Same(outer, inner);
        Assert.True(Epoch.IsProtected);
        Epoch.Exit(inner);
        Assert.True(Epoch.IsProtected);
        Assert.NotEqual(0, *outer.Slot);
        Epoch.Exit(outer);
        Assert.False(Epoch.IsProtected);
        Assert.Equal(0, *outer.Slot);
    }

    [Fact]
    public void WaitingForGraceInsideARegionIsRefused()
    {
        Epoch.EpochThread t = Epoch.Enter();
        try
        {
            Assert.Throws<InvalidOperationException>(() => Epoch.WaitForSafe(Epoch.BumpForRetire()));
        }
        finally
        {
            Epoch.Exit(t);
        }
    }

    [Fact]
    public void ThreadsGetDistinctCacheLineSlots()
    {
        long* a = null, b = null;
        var t1 = new Thread(() => { Epoch.EpochThread t = Epoch.Enter(); a = t.Slot; Epoch.Exit(t); });
        var t2 = new Thread(() => { Epoch.EpochThread t = Epoch.Enter(); b = t.Slot; Epoch.Exit(t); });
        t1.Start();
        Assert.True(t1.Join(s_timeout));
        t2.Start();
        Assert.True(t2.Join(s_timeout));
        Assert.True(a != null && b != null);
        Assert.Equal(0, (long)a % 64);
        Assert.True(a == b || Math.Abs((long)a - (long)b) >= 64);
    }
}
