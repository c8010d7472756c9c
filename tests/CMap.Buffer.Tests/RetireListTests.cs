using System;
using System.Threading;
using CMap.Buffer;
using Xunit;

namespace CMap.Buffer.Tests;

public sealed unsafe class RetireListTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void ABlockIsFreedOnlyAfterTheReaderThatCouldSeeItLeaves()
    {
        var arena = new NativeArena();
        using var pool = new ChunkPool(arena, [1024], [0]);
        var list = new RetireList(arena, pool, new EpochDomain());
        void* block = arena.Alloc(256);

        using var reader = new ParkedReader(list.Epoch);

        list.Retire(block, 256);
        Assert.Equal(0, list.TryDrain());
        Assert.Equal(256, arena.OutstandingBytes);
        Assert.Equal(1, list.PendingCount);

        reader.Leave();
        list.DrainRetiredSoFar();
        Assert.Equal(0, arena.OutstandingBytes);
        Assert.Equal(1, list.ReleasedItems);
        Assert.Equal(256, list.ReleasedBytes);
    }

    [Fact]
    public void RetiredChunksGoBackToTheirPool()
    {
        var arena = new NativeArena();
        var pool = new ChunkPool(arena, [1024], [4]);
        var list = new RetireList(arena, pool, new EpochDomain());
        Chunk c = pool.Rent(0);
        list.Retire(c);
        list.DrainRetiredSoFar();
        Assert.Equal(1024, arena.OutstandingBytes); // retained by the pool
        Assert.True(c == pool.Rent(0));
        pool.Dispose();
        Assert.Equal(1024, arena.OutstandingBytes); // still rented
        pool.Return(c); // a disposed pool keeps nothing: the chunk goes back to the OS
        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void ManyRetirementsDrainThemselves()
    {
        var arena = new NativeArena();
        using var pool = new ChunkPool(arena, [1024], [0]);
        var list = new RetireList(arena, pool, new EpochDomain());
        for (int i = 0; i < RetireList.DrainCountThreshold * 4; i++)
        {
            list.Retire(arena.Alloc(64), 64);
        }

        Assert.True(list.Drains > 0);
        Assert.True(list.PendingCount < RetireList.DrainCountThreshold * 4);
        list.DrainRetiredSoFar();
        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void RetiringNeverAllocatesSoItCannotFailAfterUnpublication()
    {
        // Failure 6: growing the old array-backed list could throw OutOfMemoryException after the item was
        // unpublished, leaking it. The lists are intrusive now: thousands of retirements held back by a parked
        // reader allocate nothing at all.
        var arena = new NativeArena();
        using var pool = new ChunkPool(arena, [1024], [0]);
        var list = new RetireList(arena, pool, new EpochDomain());
        const int n = 4096;
        var blocks = new nint[n];
        for (int i = 0; i < n; i++)
        {
            blocks[i] = (nint)arena.Alloc(64);
        }

        using var reader = new ParkedReader(list.Epoch);

        list.Retire((void*)blocks[0], 64); // warm the path
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 1; i < n; i++)
        {
            list.Retire((void*)blocks[i], 64);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(n, list.PendingCount);
        Assert.Equal(0, allocated);

        reader.Leave();
        list.DrainRetiredSoFar();
        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void AParkedReaderCostsNoBarriers()
    {
        // Failure 3 at the list level: once a reader holds back every pending item, drain attempts see that without
        // a process-wide barrier [E7].
        var arena = new NativeArena();
        using var pool = new ChunkPool(arena, [1024], [0]);
        var list = new RetireList(arena, pool, new EpochDomain());
        using var reader = new ParkedReader(list.Epoch);

        long barriers = list.Epoch.Barriers;
        const int n = RetireList.DrainCountThreshold * 64;
        for (int i = 0; i < n; i++)
        {
            list.Retire(arena.Alloc(64), 64);
        }

        Assert.Equal(barriers, list.Epoch.Barriers);
        Assert.True(list.SkippedBarriers >= n / RetireList.DrainCountThreshold, $"only {list.SkippedBarriers} drain attempts were made");

        reader.Leave();
        list.DrainRetiredSoFar();
        Assert.Equal(0, arena.OutstandingBytes);
    }
}
