using CMap.Buffer;
using Xunit;

namespace CMap.Buffer.Tests;

public sealed unsafe class ChunkPoolTests
{
    [Theory]
    [InlineData(1024)]
    [InlineData(65536)]
    [InlineData(2 << 20)]
    public void ChunksAreAlignedToTheirSizeSoAnEntryFindsItsHeader(int size)
    {
        var arena = new NativeArena();
        using (var pool = new ChunkPool(arena, [size], [4]))
        {
            Chunk c = pool.Rent(0);
            Assert.Equal(0, (long)c.Base % size);
            byte* entry = c.Base + Chunk.HeaderSize + 123;
            Assert.True(Chunk.HeaderOf(entry, 0, pool.ClassSizes) == c.Header);
            Assert.Equal(Chunk.HeaderSize, c.Header->Used);
            Assert.Equal(size, c.Header->Capacity);
            pool.Return(c);
        }

        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void ThePoolKeepsUpToItsLimitAndReturnsTheRestToTheOs()
    {
        var arena = new NativeArena();
        var pool = new ChunkPool(arena, [1024, 4096], [2, 0]);
        var rented = new Chunk[5];
        for (int i = 0; i < rented.Length; i++)
        {
            rented[i] = pool.Rent(0);
        }

        Chunk big = pool.Rent(1);
        Assert.Equal((5 * 1024) + 4096, arena.OutstandingBytes);
        foreach (Chunk c in rented)
        {
            pool.Return(c);
        }

        pool.Return(big);
        // Two 1 KiB chunks retained; the other three and the 4 KiB one (limit 0) went back.
        Assert.Equal(2 * 1024, arena.OutstandingBytes);
        Assert.Equal(4, pool.Counters.ChunksReturnedToOs);

        Chunk again = pool.Rent(0);
        Assert.Equal(6, pool.Counters.ChunksAllocated);
        Assert.Equal(Chunk.HeaderSize, again.Header->Used);
        pool.Return(again);
        pool.Dispose();
        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void ChunksInUseHaveNoManagedObjectAndOnlyRetainedOnesHaveAHolder()
    {
        var arena = new NativeArena();
        using (var pool = new ChunkPool(arena, [1024], [4]))
        {
            var rented = new Chunk[100];
            for (int i = 0; i < rented.Length; i++)
            {
                rented[i] = pool.Rent(0);
            }

            // One holder, whose chunk each rent takes before it holds the next one.
            Assert.Equal(1, pool.Counters.ChunkObjectsCreated);
            Assert.Equal(100 * 1024, arena.OutstandingBytes);
            foreach (Chunk c in rented)
            {
                pool.Return(c);
            }

            // Four retained chunks need four holders, and one more carried the other 96 back to the OS, reused each time.
            Assert.Equal(5, pool.Counters.ChunkObjectsCreated);
            Assert.Equal(4 * 1024, arena.OutstandingBytes);
            for (int round = 0; round < 1000; round++)
            {
                Chunk a = pool.Rent(0);
                Chunk b = pool.Rent(0);
                pool.Return(a);
                pool.Return(b);
            }

            Assert.Equal(5, pool.Counters.ChunkObjectsCreated); // churn creates none
        }

        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void AReturnThatCannotGetAHolderGivesTheChunkBackToTheOsInsteadOfFailing()
    {
        // A return runs inside the retire list's drain, after the chunk left the list: it must not throw.
        var arena = new NativeArena();
        using (var pool = new ChunkPool(arena, [1024], [4]))
        {
            Chunk a = pool.Rent(0);
            Chunk b = pool.Rent(0);
            Chunk c = pool.Rent(0);
            pool.FailHolderAllocation = true;
            pool.Return(a); // the one shell the rents left: kept
            pool.Return(b); // no shell, no memory for a holder: back to the OS
            pool.Return(c);
            pool.FailHolderAllocation = false;
            Assert.Equal(1024, arena.OutstandingBytes);
            Assert.Equal(2, pool.Counters.ChunksReturnedToOs);
            Assert.True(pool.HasRetained);
            Assert.True(pool.Rent(0) == a);
            pool.Return(a);
        }

        Assert.Equal(0, arena.OutstandingBytes);
    }

    [Fact]
    public void PoisonModeOverwritesReturnedChunksAndQuarantinesThem()
    {
        var arena = new NativeArena();
        using var pool = new ChunkPool(arena, [1024], [ChunkPool.QuarantineLength + 4], poisonOnReturn: true);
        Chunk c = pool.Rent(0);
        c.Base[Chunk.HeaderSize] = 42;
        pool.Return(c);
        // Still mapped (quarantined), and every byte past the header is poison.
        Assert.Equal(ChunkPool.PoisonByte, c.Base[Chunk.HeaderSize]);
        Assert.Equal(ChunkPool.PoisonByte, c.Base[1023]);

        // Not handed out again until QuarantineLength more chunks have been returned after it.
        var others = new Chunk[ChunkPool.QuarantineLength];
        for (int i = 0; i < others.Length; i++)
        {
            others[i] = pool.Rent(0);
            Assert.True(c != others[i]);
        }

        foreach (Chunk o in others)
        {
            pool.Return(o);
        }

        Chunk again = pool.Rent(0);
        Assert.True(c == again);
        Assert.Equal(Chunk.HeaderSize, again.Header->Used);
        pool.Return(again);
    }
}
