using System;
using System.Threading;
using Microsoft.Extensions.ObjectPool;

namespace CMap.Buffer;

/// <summary>
/// One <see cref="ObjectPool{T}"/> per chunk size class. Chunks are <see cref="IDisposable"/>, so the pools built by
/// <see cref="DefaultObjectPoolProvider"/> dispose (return to the OS) every chunk handed back beyond a class's
/// retained limit, and every retained chunk when the pool itself is disposed.
/// </summary>
internal sealed class ChunkPool : IDisposable
{
    private readonly int[] _classSizes;
    private readonly ObjectPool<Chunk>[] _pools;
    private readonly ChunkCounters _counters;
    private readonly NativeArena _arena;

    /// <param name="arena">Where chunk memory comes from.</param>
    /// <param name="classSizes">Chunk sizes in bytes, ascending powers of two, at most <see cref="Chunk.MaxSizeClasses"/>.</param>
    /// <param name="maxRetained">Chunks each class keeps for reuse; beyond that, returned chunks go back to the OS.</param>
    /// <param name="poisonOnReturn">Test mode: overwrite returned chunks with <see cref="PoisonByte"/>.</param>
    internal ChunkPool(NativeArena arena, int[] classSizes, int[] maxRetained, bool poisonOnReturn = false)
    {
        _arena = arena;
        _classSizes = classSizes;
        _counters = new ChunkCounters();
        _pools = new ObjectPool<Chunk>[classSizes.Length];
        for (int i = 0; i < classSizes.Length; i++)
        {
            var provider = new DefaultObjectPoolProvider { MaximumRetained = Math.Max(1, maxRetained[i]) };
            _pools[i] = provider.Create(new Policy(this, i, maxRetained[i] == 0, poisonOnReturn));
        }
    }

    /// <summary>The byte every returned chunk is filled with in poison mode.</summary>
    internal const byte PoisonByte = 0xDB;

    internal ReadOnlySpan<int> ClassSizes => _classSizes;

    internal int ClassCount => _classSizes.Length;

    internal ChunkCounters Counters => _counters;

    /// <summary>A chunk of class <paramref name="sizeClass"/>, reset to empty. Throws <see cref="OutOfMemoryException"/>.</summary>
    internal Chunk Rent(int sizeClass)
    {
        Chunk c = _pools[sizeClass].Get();
        Interlocked.Increment(ref _counters.ChunksRented);
        return c;
    }

    /// <summary>Hands a chunk back. Only call this once no reader can still hold an address inside it.</summary>
    internal void Return(Chunk chunk) => _pools[chunk.SizeClass].Return(chunk);

    public void Dispose()
    {
        foreach (ObjectPool<Chunk> p in _pools)
        {
            (p as IDisposable)?.Dispose();
        }
    }

    private sealed class Policy(ChunkPool owner, int sizeClass, bool retainNone, bool poison) : IPooledObjectPolicy<Chunk>
    {
        public Chunk Create()
        {
            var c = new Chunk(owner._arena, owner._classSizes[sizeClass], sizeClass, owner._counters);
            Interlocked.Increment(ref owner._counters.ChunksAllocated);
            return c;
        }

        public bool Return(Chunk obj)
        {
            if (poison)
            {
                obj.Poison(PoisonByte);
            }

            obj.Reset();
            return !retainNone;
        }
    }
}
