using System;
using CMap.Buffer;
using Xunit;

namespace CMap.Buffer.Tests;

public sealed unsafe class NativeArenaTests
{
    [Fact]
    public void CountsOutstandingBytesAndReturnsToZero()
    {
        var arena = new NativeArena();
        void* a = arena.Alloc(1000);
        void* b = arena.Alloc(4096, 4096);
        Assert.Equal(5096, arena.OutstandingBytes);
        Assert.Equal(0, (long)b % 4096);
        Assert.Equal(0, (long)a % 64);
        arena.Free(a, 1000);
        arena.Free(b, 4096);
        Assert.Equal(0, arena.OutstandingBytes);
        Assert.Equal(2, arena.Allocations);
        Assert.Equal(2, arena.Frees);
    }

    [Fact]
    public void AFailedAllocationThrowsOutOfMemoryAndCountsNothing()
    {
        var arena = new NativeArena { FailAfter = 2 };
        void* a = arena.Alloc(100);
        Assert.Throws<InsufficientMemoryException>(() => arena.Alloc(100));
        Assert.Equal(100, arena.OutstandingBytes);
        Assert.Equal(1, arena.Allocations);
        arena.Free(a, 100);
        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void AnImpossibleAllocationThrowsOutOfMemory()
    {
        var arena = new NativeArena();
        Assert.ThrowsAny<OutOfMemoryException>(() => arena.Alloc(nuint.MaxValue / 2));
        Assert.Equal(0, arena.OutstandingBytes);
    }
}
