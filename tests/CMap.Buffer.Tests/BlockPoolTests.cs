using CMap.Buffer;
using Xunit;

namespace CMap.Buffer.Tests;

public sealed unsafe class BlockPoolTests
{
    private const long Entry = 100_000;
    private const long Block = Chunk.HeaderSize + Entry + Chunk.TailPadding;

    [Fact]
    public void AFreshBlockIsSizedForItsEntryAndMarkedOversize()
    {
        var arena = new NativeArena();
        using (var pool = new BlockPool(arena, 1 << 20))
        {
            ChunkHeader* h = pool.Rent(Entry);
            Assert.Equal(Block, h->Capacity);
            Assert.Equal(Chunk.HeaderSize + Entry, h->Used);
            Assert.Equal(Chunk.OversizeClass, h->SizeClass);
            Assert.Equal(-1, h->ListIndex);
            Assert.Equal(long.MaxValue, h->SweepAt);
            Assert.Equal(Block, arena.OutstandingBytes);
            pool.Return(h, h->Capacity);
            Assert.Equal(Block, pool.RetainedBytes);
        }

        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void AReturnedBlockIsReusedByTheNextEntryThatFitsItWithAtMostAnEighthToSpare()
    {
        var arena = new NativeArena();
        using var pool = new BlockPool(arena, 1 << 20);
        ChunkHeader* first = pool.Rent(Entry);
        first->LiveBytes = 123; // a used header: a rent must reset it
        pool.Return(first, first->Capacity);
        long allocations = arena.Allocations;

        // Smaller by a little: the same block, its real capacity kept (the accounting counts what is held).
        ChunkHeader* again = pool.Rent(Entry - 1000);
        Assert.True(again == first);
        Assert.Equal(Block, again->Capacity);
        Assert.Equal(Chunk.HeaderSize + Entry - 1000, again->Used);
        Assert.Equal(0, again->LiveBytes);
        Assert.Equal(allocations, arena.Allocations);
        Assert.Equal(1, pool.Reused);
        Assert.Equal(0, pool.RetainedBytes);
        pool.Return(again, again->Capacity);

        // Far smaller (more than an eighth to spare) or larger: a new block; the pooled one stays.
        ChunkHeader* small = pool.Rent(Entry / 2);
        ChunkHeader* large = pool.Rent(Entry + 1);
        Assert.True(small != first && large != first);
        Assert.Equal(allocations + 2, arena.Allocations);
        Assert.Equal(Block, pool.RetainedBytes);
        pool.Return(small, small->Capacity);
        pool.Return(large, large->Capacity);
    }

    [Fact]
    public void RentTakesTheSmallestBlockThatFits()
    {
        var arena = new NativeArena();
        using var pool = new BlockPool(arena, 1 << 22);
        ChunkHeader* bigger = pool.Rent(Entry + 5000);
        ChunkHeader* exact = pool.Rent(Entry);
        pool.Return(bigger, bigger->Capacity);
        pool.Return(exact, exact->Capacity);
        Assert.True(pool.Rent(Entry) == exact);
        Assert.True(pool.Rent(Entry) == bigger);
        Assert.Equal(0, pool.RetainedBytes);
        Assert.Equal(2 * Block + 5000, arena.OutstandingBytes);
    }

    [Fact]
    public void BlocksBeyondTheLimitGoBackToTheOsAndTrimGivesBackTheRest()
    {
        var arena = new NativeArena();
        var pool = new BlockPool(arena, 2 * Block);
        var blocks = new nint[40]; // more than the slot array starts with, so it grows
        for (int i = 0; i < blocks.Length; i++)
        {
            blocks[i] = (nint)pool.Rent(Entry);
        }

        foreach (nint b in blocks)
        {
            pool.Return((void*)b, Block);
        }

        Assert.Equal(2 * Block, pool.RetainedBytes);
        Assert.Equal(2 * Block, arena.OutstandingBytes);
        pool.Trim();
        Assert.Equal(0, pool.RetainedBytes);
        Assert.Equal(0, arena.OutstandingBytes);
        pool.Dispose();
    }

    [Fact]
    public void ALimitOfZeroKeepsNothing()
    {
        var arena = new NativeArena();
        using var pool = new BlockPool(arena, 0);
        ChunkHeader* h = pool.Rent(Entry);
        pool.Return(h, h->Capacity);
        Assert.Equal(0, pool.RetainedBytes);
        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void ManyReturnedBlocksStayFindable()
    {
        var arena = new NativeArena();
        using var pool = new BlockPool(arena, 64 * Block);
        var blocks = new nint[48];
        for (int i = 0; i < blocks.Length; i++)
        {
            blocks[i] = (nint)pool.Rent(Entry);
        }

        foreach (nint b in blocks)
        {
            pool.Return((void*)b, Block);
        }

        var seen = new System.Collections.Generic.HashSet<nint>();
        for (int i = 0; i < blocks.Length; i++)
        {
            Assert.True(seen.Add((nint)pool.Rent(Entry)));
        }

        Assert.Subset(new System.Collections.Generic.HashSet<nint>(blocks), seen);
        Assert.Equal(blocks.Length, pool.Reused);
        foreach (nint b in seen)
        {
            pool.Return((void*)b, Block);
        }
    }
}
