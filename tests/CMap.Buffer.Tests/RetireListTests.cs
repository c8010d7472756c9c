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
        var list = new RetireList(arena, pool);
        void* block = arena.Alloc(256);

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

        list.Retire(block, 256);
        Assert.Equal(0, list.TryDrain());
        Assert.Equal(256, arena.OutstandingBytes);
        Assert.Equal(1, list.PendingCount);

        leave.Set();
        Assert.True(reader.Join(s_timeout));
        list.DrainAll();
        Assert.Equal(0, arena.OutstandingBytes);
        Assert.Equal(1, list.ReleasedItems);
        Assert.Equal(256, list.ReleasedBytes);
    }

    [Fact]
    public void RetiredChunksGoBackToTheirPool()
    {
        var arena = new NativeArena();
        var pool = new ChunkPool(arena, [1024], [4]);
        var list = new RetireList(arena, pool);
        Chunk c = pool.Rent(0);
        list.Retire(c);
        list.DrainAll();
        Assert.Equal(1024, arena.OutstandingBytes); // retained by the pool
        Assert.Same(c, pool.Rent(0));
        pool.Dispose();
        Assert.Equal(1024, arena.OutstandingBytes); // still rented
        c.Dispose();
        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void ManyRetirementsDrainThemselves()
    {
        var arena = new NativeArena();
        using var pool = new ChunkPool(arena, [1024], [0]);
        var list = new RetireList(arena, pool);
        for (int i = 0; i < RetireList.DrainCountThreshold * 4; i++)
        {
            list.Retire(arena.Alloc(64), 64);
        }

        Assert.True(list.Drains > 0);
        Assert.True(list.PendingCount < RetireList.DrainCountThreshold * 4);
        list.DrainAll();
        Assert.Equal(0, arena.OutstandingBytes);
    }
}
