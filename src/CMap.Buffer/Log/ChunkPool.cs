using System;
using System.Collections.Generic;
using System.Threading;
using Microsoft.Extensions.ObjectPool;

namespace CMap.Buffer;

/// <summary>
/// One <see cref="ObjectPool{T}"/> of free chunks per size class. A chunk in use has no managed object (it is a
/// <see cref="Chunk"/>, its header's address); a free one waits in its pool inside a <see cref="FreeChunk"/>, a
/// holder that is <see cref="IDisposable"/>, so the pools built by <see cref="DefaultObjectPoolProvider"/> dispose
/// (return to the OS) every chunk handed back beyond a class's retained limit, and every retained chunk when the pool
/// itself is disposed. Holders are reused (<see cref="_shells"/>), so chunk churn allocates no managed object once warm.
/// </summary>
internal sealed unsafe partial class ChunkPool : IDisposable
{
    private readonly int[] _classSizes;
    // Replaced (and the old pools disposed) by Trim. Rent, Return and Trim hold _poolsLock; under it only
    // _shellsLock (a leaf) is ever taken.
    private readonly ObjectPool<FreeChunk>[] _pools;
    private readonly int[] _maxRetained;
    private readonly Lock _poolsLock = new();

    // Holders with no memory, per class: a rented chunk leaves its holder here, and a returned one takes it back.
    // Guarded by _shellsLock, a leaf lock (FreeChunk.Dispose runs under _poolsLock).
    private readonly Stack<FreeChunk>[] _shells;
    private readonly int[] _maxShells;
    private readonly Lock _shellsLock = new();

    /// <summary>Empty holders kept for reuse per class, at least (a class keeps as many as it retains chunks).</summary>
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
        _pools = new ObjectPool<FreeChunk>[classSizes.Length];
        // Full size up front, so that a return (inside a drain) never grows it.
        _quarantine = poisonOnReturn ? new Queue<Chunk>(QuarantineLength + 1) : null;
        _maxRetained = maxRetained;
        _shells = new Stack<FreeChunk>[classSizes.Length];
        _maxShells = new int[classSizes.Length];
        for (int i = 0; i < classSizes.Length; i++)
        {
            // Full size up front: growing it would allocate on whichever drain first overflows it.
            _maxShells[i] = Math.Max(MaxShells, maxRetained[i] + 1);
            _shells[i] = new Stack<FreeChunk>(_maxShells[i]);
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
        lock (_poolsLock)
        {
            long created = _counters.ChunksAllocated;
            FreeChunk free = _pools[sizeClass].Get();
            if (_counters.ChunksAllocated == created)
            {
                Volatile.Write(ref _retainedChunks, _retainedChunks - 1); // reused a retained chunk
            }

            Chunk c = free.Detach();
            Shelve(free);
            return c;
        }
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
        Chunk release = default;
        lock (_quarantine)
        {
            _quarantine.Enqueue(chunk);
            if (_quarantine.Count > QuarantineLength)
            {
                release = _quarantine.Dequeue();
            }
        }

        if (!release.IsNull)
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
                ObjectPool<FreeChunk> old = _pools[i];
                _pools[i] = CreatePool(i);
                (old as IDisposable)?.Dispose();
            }
        }
    }

    /// <summary>Keeps an empty holder for reuse (after a rent took its chunk, or its chunk went back to the OS).</summary>
    private void Shelve(FreeChunk holder)
    {
        lock (_shellsLock)
        {
            Stack<FreeChunk> shells = _shells[holder.SizeClass];
            if (shells.Count < _maxShells[holder.SizeClass])
            {
                shells.Push(holder);
            }
        }
    }

    private FreeChunk TakeShell(int sizeClass)
    {
        lock (_shellsLock)
        {
            // CA2000 (Reliability, all): a shell holds no memory; it is filled and handed to a pool by the caller.
#pragma warning disable CA2000
            if (_shells[sizeClass].TryPop(out FreeChunk? shell))
            {
                return shell;
            }
#pragma warning restore CA2000
        }

        if (TestHooks.Enabled && _failHolderAllocation)
        {
            throw new InsufficientMemoryException("Injected: no memory for a free chunk's holder (ChunkPool.FailHolderAllocation).");
        }

        var created = new FreeChunk(this, _classSizes[sizeClass], sizeClass);
        Interlocked.Increment(ref _counters.ChunkObjectsCreated);
        return created;
    }

    /// <summary>A new chunk's memory in a holder (the pool's policy, when a class has none retained).</summary>
    private FreeChunk CreateFree(int sizeClass)
    {
        FreeChunk holder = TakeShell(sizeClass);
        try
        {
            holder.Arm((byte*)_arena.Alloc((nuint)_classSizes[sizeClass], (nuint)_classSizes[sizeClass]));
        }
        catch (OutOfMemoryException)
        {
            Shelve(holder);
            throw;
        }

        return holder;
    }

    /// <summary>
    /// Never fails: it runs inside the retire list's drain, after the chunk left the list. A chunk the pool would keep
    /// needs a holder; when none can be had (out of memory), the chunk goes back to the OS instead.
    /// </summary>
    private void ReturnToPool(Chunk chunk)
    {
        lock (_poolsLock)
        {
            FreeChunk holder;
            try
            {
                // CA2000 (Reliability, all): the holder goes to the pool, which keeps it or disposes it.
#pragma warning disable CA2000
                holder = TakeShell(chunk.SizeClass);
#pragma warning restore CA2000
            }
            catch (OutOfMemoryException)
            {
                int capacity = chunk.Capacity;
                _arena.Free(chunk.Base, (nuint)capacity);
                Interlocked.Increment(ref _counters.ChunksReturnedToOs);
                return;
            }

            holder.Arm(chunk.Base);
            _pools[holder.SizeClass].Return(holder); // disposes the holder (freeing the chunk) when the class is full
            if (!holder.IsFreed)
            {
                Volatile.Write(ref _retainedChunks, _retainedChunks + 1); // kept, not given back to the OS
            }
        }
    }

    private ObjectPool<FreeChunk> CreatePool(int sizeClass)
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
                while (_quarantine.TryDequeue(out Chunk c))
                {
                    ReturnToPool(c);
                }
            }
        }

        lock (_poolsLock)
        {
            foreach (ObjectPool<FreeChunk> p in _pools)
            {
                (p as IDisposable)?.Dispose();
            }
        }

        Blocks.Dispose();
    }

    private sealed class Policy(ChunkPool owner, int sizeClass, bool retainNone) : IPooledObjectPolicy<FreeChunk>
    {
        public FreeChunk Create()
        {
            FreeChunk c = owner.CreateFree(sizeClass);
            Interlocked.Increment(ref owner._counters.ChunksAllocated);
            return c;
        }

        // The holder was armed just before (ReturnToPool), which wrote the chunk a fresh header.
        public bool Return(FreeChunk obj) => !retainNone;
    }

    /// <summary>
    /// A free chunk's managed holder while it waits in a pool (a pooled object must be a class), or an empty shell
    /// waiting for the next one. Disposing it returns the chunk's memory to the OS.
    /// </summary>
    private sealed class FreeChunk(ChunkPool owner, int capacity, int sizeClass) : IDisposable
    {
        private byte* _base;

        internal int SizeClass { get; } = sizeClass;

        internal bool IsFreed => _base == null;

        internal Chunk Chunk => new((ChunkHeader*)_base);

        /// <summary>Takes <paramref name="memory"/>, a chunk of this class, and makes its header that of an empty chunk.</summary>
        internal void Arm(byte* memory)
        {
            _base = memory;
            Chunk.InitHeader((ChunkHeader*)memory, Chunk.HeaderSize, capacity, SizeClass);
        }

        /// <summary>Hands the chunk out, leaving an empty shell.</summary>
        internal Chunk Detach()
        {
            Chunk c = Chunk;
            _base = null;
            return c;
        }

        public void Dispose()
        {
            byte* p = _base;
            if (p != null)
            {
                _base = null;
                owner._arena.Free(p, (nuint)capacity);
                Interlocked.Increment(ref owner._counters.ChunksReturnedToOs);
                owner.Shelve(this);
            }
        }
    }
}
