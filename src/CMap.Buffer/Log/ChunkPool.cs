using System;
using System.Collections.Generic;
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
    // Replaced (and the old pools disposed) by Trim. Rent, Return and Trim hold _poolsLock, which is a leaf lock.
    private readonly ObjectPool<Chunk>[] _pools;
    private readonly int[] _maxRetained;
    private readonly Lock _poolsLock = new();

    // Chunk objects whose memory went back to the OS, kept per class for Rearm so that creating a chunk does not
    // allocate a managed object once warm. Guarded by _shellsLock, a leaf lock (Chunk.Dispose runs under _poolsLock).
    private readonly Stack<Chunk>[] _shells;
    private readonly Lock _shellsLock = new();

    /// <summary>Freed chunk objects kept for reuse per class; beyond this they are left to the GC.</summary>
    internal const int MaxShells = 256;
    private readonly ChunkCounters _counters;
    private readonly NativeArena _arena;

    // Poison mode only: returned chunks wait here (poisoned, never reused) before they reach their pool, so a
    // reader that touches a chunk after it was freed finds poison, not some newer entry. Guarded by itself.
    private readonly Queue<Chunk>? _quarantine;

    /// <param name="arena">Where chunk memory comes from.</param>
    /// <param name="classSizes">Chunk sizes in bytes, ascending powers of two, at most <see cref="Chunk.MaxSizeClasses"/>.</param>
    /// <param name="maxRetained">Chunks each class keeps for reuse; beyond that, returned chunks go back to the OS.</param>
    /// <param name="poisonOnReturn">Test mode: overwrite returned chunks with <see cref="PoisonByte"/>.</param>
    /// <param name="maxRetainedBlockBytes">Bytes of free oversize blocks kept for reuse (<see cref="Blocks"/>); none in poison mode.</param>
    internal ChunkPool(NativeArena arena, int[] classSizes, int[] maxRetained, bool poisonOnReturn = false, long maxRetainedBlockBytes = 0)
    {
        _arena = arena;
        // Poison mode never reuses freed memory (a reader that touched it must find poison), so it pools no blocks.
        Blocks = new BlockPool(arena, poisonOnReturn ? 0 : maxRetainedBlockBytes);
        _classSizes = classSizes;
        _counters = new ChunkCounters();
        _pools = new ObjectPool<Chunk>[classSizes.Length];
        _quarantine = poisonOnReturn ? new Queue<Chunk>() : null;
        _maxRetained = maxRetained;
        _shells = new Stack<Chunk>[classSizes.Length];
        for (int i = 0; i < classSizes.Length; i++)
        {
            // Full size up front: growing it would allocate on whichever writer's drain first overflows a pool.
            _shells[i] = new Stack<Chunk>(MaxShells);
        }

        for (int i = 0; i < classSizes.Length; i++)
        {
            _pools[i] = CreatePool(i);
        }
    }

    /// <summary>The byte every returned chunk is filled with in poison mode.</summary>
    internal const byte PoisonByte = 0xDB;

    internal ReadOnlySpan<int> ClassSizes => _classSizes;

    /// <summary>The free oversize blocks kept for reuse, trimmed and disposed with the chunk pools.</summary>
    internal BlockPool Blocks { get; }

    internal int ClassCount => _classSizes.Length;

    internal ChunkCounters Counters => _counters;

    /// <summary>A chunk of class <paramref name="sizeClass"/>, reset to empty. Throws <see cref="OutOfMemoryException"/>.</summary>
    internal Chunk Rent(int sizeClass)
    {
        Chunk c;
        lock (_poolsLock)
        {
            long created = _counters.ChunksAllocated;
            c = _pools[sizeClass].Get();
            if (_counters.ChunksAllocated == created)
            {
                Volatile.Write(ref _retainedChunks, _retainedChunks - 1); // reused a retained chunk
            }
        }

        return c;
    }

    // Chunks the pools hold for reuse. Written under _poolsLock; read racily by HasRetained.
    private long _retainedChunks;

    /// <summary>True when the pools hold free chunks that <see cref="Trim"/> would give back (racy: a hint).</summary>
    internal bool HasRetained => Volatile.Read(ref _retainedChunks) > 0 || Blocks.RetainedBytes > 0;

    /// <summary>Chunks held back from reuse in poison mode.</summary>
    internal const int QuarantineLength = 64;

    /// <summary>Hands a chunk back. Only call this once no reader can still hold an address inside it.</summary>
    internal void Return(Chunk chunk)
    {
        if (_quarantine is null)
        {
            ReturnToPool(chunk);
            return;
        }

        chunk.Poison(PoisonByte);
        Chunk? release = null;
        lock (_quarantine)
        {
            _quarantine.Enqueue(chunk);
            if (_quarantine.Count > QuarantineLength)
            {
                release = _quarantine.Dequeue();
            }
        }

        if (release is not null)
        {
            ReturnToPool(release);
        }
    }

    /// <summary>Returns every free chunk and oversize block the pools retain to the OS (Compact, Clear, budget pressure).</summary>
    internal void Trim()
    {
        Blocks.Trim();
        lock (_poolsLock)
        {
            Volatile.Write(ref _retainedChunks, 0);
            for (int i = 0; i < _pools.Length; i++)
            {
                ObjectPool<Chunk> old = _pools[i];
                _pools[i] = CreatePool(i);
                (old as IDisposable)?.Dispose();
            }
        }
    }

    /// <summary>Called by <see cref="Chunk.Dispose"/> once the chunk's memory is freed.</summary>
    internal void Shelve(Chunk chunk)
    {
        Interlocked.Increment(ref _counters.ChunksReturnedToOs);
        lock (_shellsLock)
        {
            Stack<Chunk> shells = _shells[chunk.SizeClass];
            if (shells.Count < MaxShells)
            {
                shells.Push(chunk);
            }
        }
    }

    private Chunk CreateChunk(int sizeClass)
    {
        Chunk? shell;
        lock (_shellsLock)
        {
            // CA2000 (Reliability, all): a shell is a chunk whose memory is already freed, owned by this pool; it is
            // returned to the caller or pushed back below, never dropped, so there is nothing to dispose here.
#pragma warning disable CA2000
            _shells[sizeClass].TryPop(out shell);
#pragma warning restore CA2000
        }

        if (shell is null)
        {
            var c = new Chunk(_arena, _classSizes[sizeClass], sizeClass, this);
            Interlocked.Increment(ref _counters.ChunkObjectsCreated);
            return c;
        }

        try
        {
            shell.Rearm();
        }
        catch (OutOfMemoryException)
        {
            lock (_shellsLock)
            {
                _shells[sizeClass].Push(shell);
            }

            throw;
        }

        return shell;
    }

    private void ReturnToPool(Chunk chunk)
    {
        lock (_poolsLock)
        {
            _pools[chunk.SizeClass].Return(chunk);
            if (!chunk.IsFreed)
            {
                Volatile.Write(ref _retainedChunks, _retainedChunks + 1); // kept, not given back to the OS
            }
        }
    }

    private ObjectPool<Chunk> CreatePool(int sizeClass)
    {
        var provider = new DefaultObjectPoolProvider { MaximumRetained = Math.Max(1, _maxRetained[sizeClass]) };
        return provider.Create(new Policy(this, sizeClass, _maxRetained[sizeClass] == 0));
    }

    public void Dispose()
    {
        if (_quarantine is not null)
        {
            lock (_quarantine)
            {
                while (_quarantine.TryDequeue(out Chunk? c))
                {
                    ReturnToPool(c);
                }
            }
        }

        lock (_poolsLock)
        {
            foreach (ObjectPool<Chunk> p in _pools)
            {
                (p as IDisposable)?.Dispose();
            }
        }

        Blocks.Dispose();
    }

    private sealed class Policy(ChunkPool owner, int sizeClass, bool retainNone) : IPooledObjectPolicy<Chunk>
    {
        public Chunk Create()
        {
            Chunk c = owner.CreateChunk(sizeClass);
            Interlocked.Increment(ref owner._counters.ChunksAllocated);
            return c;
        }

        public bool Return(Chunk obj)
        {
            obj.Reset();
            return !retainNone;
        }
    }
}
