using System;
using System.Threading;

namespace CMap;

// Clear, Compact, statistics, Dispose and the finalizer: the members that manage the map's memory as a whole.
// (Plain comments on this and the other partial declarations: doc comments on them would be merged into ByteMap's.)
public sealed partial class ByteMap
{
    // Serializes compaction passes (the background one and Compact()); never taken by readers or writers.
    private readonly Lock _compactionGate = new();

    // Compaction failures. Written by the compacting thread with Interlocked / Volatile; read by statistics.
    private long _compactionErrors;
    private long _compactionPasses;
    private long _compactionDeferrals;
    private Exception? _lastCompactionError;

    // Dispose's stages, under _disposeLock: the shards were released (the domain is closed), then the memory freed.
    // A finalizer takes the lock too; it is never contended then, since an unreachable map has no other caller.
    private readonly Lock _disposeLock = new();
    private bool _shardsReleased;
    private bool _freed;

    /// <summary>
    /// Frees the native memory of a map that was never disposed, without waiting for anything [E8]: no thread can
    /// be inside the map (every member keeps it alive until it returns), so nothing it retired can still be read.
    /// Should a reader still be seen in the map's epoch domain, the finalizer frees nothing held back, re-registers,
    /// and finishes at a later collection.
    /// </summary>
    ~ByteMap()
    {
        if (!DisposeCore(wait: false))
        {
            GC.ReRegisterForFinalize(this);
        }
    }

    /// <summary>
    /// Removes every entry and gives the memory back to the OS once reads in flight have finished with it (Clear
    /// waits only for the readers of this map that were inside a read when it began, never for later ones, then
    /// empties the chunk pools). Safe while other threads use the map: each shard is emptied atomically, and a write
    /// racing with Clear lands before or after it. Readers never wait for Clear.
    /// </summary>
    /// <exception cref="OutOfMemoryException">An empty index could not be allocated; shards not yet cleared keep their entries.</exception>
    /// <exception cref="InvalidOperationException">Called from inside a <see cref="TryRead{TState}"/> callback of this map (it would wait on itself).</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public void Clear()
    {
        ThrowIfDisposed();
        ThrowIfInsideOwnRead(nameof(Clear));
        foreach (ref Shard s in _shards.AsSpan())
        {
            s.Clear();
        }

        _memory.Retired.DrainRetiredSoFar();
        _memory.Pool.Trim();
        GC.KeepAlive(this); // [E8]
    }

    /// <summary>
    /// Compacts every shard now, on the calling thread: the live entries of every chunk that holds dead entries (or
    /// was sealed far from full) are moved, index tables are rebuilt to fit their entries, the emptied memory is freed
    /// once the reads of this map in flight when the call began have finished, and the chunk pools give their free
    /// chunks back to the OS. A chunk whose only waste is its unused end is left alone: moving it would free nothing.
    /// Readers are never blocked; each shard's writers wait at most one bounded batch at a time.
    /// </summary>
    /// <returns>Chunks compacted.</returns>
    /// <exception cref="OutOfMemoryException">A chunk to copy into could not be allocated; no entry is lost and the map stays usable.</exception>
    /// <exception cref="InvalidOperationException">Called from inside a <see cref="TryRead{TState}"/> callback of this map (it would wait on itself).</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public int Compact()
    {
        ThrowIfDisposed();
        ThrowIfInsideOwnRead(nameof(Compact));
        int chunks = 0;
        using (_compactionGate.EnterScope())
        {
            foreach (ref Shard s in _shards.AsSpan())
            {
                chunks += s.Compact(everything: true);
            }

            Interlocked.Increment(ref _compactionPasses);
        }

        ThrowIfDisposed();
        _memory.Retired.DrainRetiredSoFar();
        _memory.Pool.Trim();
        GC.KeepAlive(this); // [E8]
        return chunks;
    }

    /// <summary>The statistics, or false once the map is disposed (the metrics' observer must not throw).</summary>
    internal bool TryGetStatistics(out CMapStatistics statistics)
    {
        if (IsDisposed)
        {
            statistics = default;
            return false;
        }

        statistics = GetStatisticsCore();
        GC.KeepAlive(this); // [E8]
        return true;
    }

    internal bool IsDisposed => _memory.Epoch.IsClosed;

    /// <summary>Reads the map's counters without stopping it.</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public CMapStatistics GetStatistics()
    {
        ThrowIfDisposed();
        return GetStatisticsCore();
    }

    private CMapStatistics GetStatisticsCore()
    {
        long count = 0, live = 0, dead = 0, slack = 0, chunks = 0, oversize = 0, index = 0, rebuilds = 0, compacted = 0, moved = 0, reclaimed = 0;
        long evictions = 0, expirations = 0, removals = 0;
        foreach (ref Shard s in _shards.AsSpan())
        {
            count += s.Count;
            live += s.LiveBytes;
            dead += s.DeadBytes;
            slack += s.SlackBytes;
            chunks += s.ChunkBytes;
            oversize += s.OversizeBytes;
            index += s.IndexBytes;
            rebuilds += s.Rebuilds;
            compacted += s.ChunksCompacted;
            moved += s.BytesMoved;
            reclaimed += s.BytesReclaimed;
            evictions += s.Evictions;
            expirations += s.Expirations;
            removals += s.Removals;
        }

        return new CMapStatistics
        {
            Count = count,
            LiveBytes = live,
            DeadBytes = dead,
            SlackBytes = slack,
            ChunkBytes = chunks,
            OversizeBytes = oversize,
            IndexBytes = index,
            IndexRebuilds = rebuilds,
            NativeBytes = _memory.Arena.OutstandingBytes,
            PendingRetiredBytes = _memory.Retired.PendingBytes,
            ChunksAllocated = Volatile.Read(ref _memory.Pool.Counters.ChunksAllocated),
            ChunksReturnedToOs = Volatile.Read(ref _memory.Pool.Counters.ChunksReturnedToOs),
            CompactionPasses = Volatile.Read(ref _compactionPasses),
            ChunksCompacted = compacted,
            CompactionBytesMoved = moved,
            CompactionBytesReclaimed = reclaimed,
            CompactionErrors = Volatile.Read(ref _compactionErrors),
            LastCompactionError = Volatile.Read(ref _lastCompactionError),
            MaxBytes = _budget?.Limit,
            Hits = _memory.Epoch.SumCounter(CMap.Buffer.EpochDomain.HitsOffset),
            Misses = _memory.Epoch.SumCounter(CMap.Buffer.EpochDomain.MissesOffset),
            Evictions = evictions,
            Expirations = expirations,
            Removals = removals,
        };
    }

    /// <summary>
    /// Frees every native byte once the reads of this map in flight have finished (reads of other maps never delay
    /// it). Calls that start afterwards throw <see cref="ObjectDisposedException"/>; calls already running complete
    /// normally. Idempotent.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from inside a <see cref="TryRead{TState}"/> callback of this map (it would wait on itself).</exception>
    public void Dispose()
    {
        ThrowIfInsideOwnRead(nameof(Dispose));
        DisposeCore(wait: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Closes the map, releases its shards and frees its memory. With <paramref name="wait"/>, waits for this map's
    /// readers in flight and joins the compactor; without it (the finalizer) waits for nothing and returns false if
    /// memory is still held back by a reader.
    /// </summary>
    private bool DisposeCore(bool wait)
    {
        using Lock.Scope scope = _disposeLock.EnterScope();
        if (_freed)
        {
            return true;
        }

        if (!_shardsReleased)
        {
            // [E6] Readers entering after this throw ObjectDisposedException; the grace wait below covers the rest.
            _memory.Epoch.Close();
            _expiryTimer.Dispose();
            _scheduler?.Stop(wait);
            foreach (ref Shard s in _shards.AsSpan())
            {
                if (s.IsBuilt)
                {
                    s.Dispose();
                }
            }

            _shardsReleased = true;
        }

        if (wait)
        {
            _memory.Retired.DrainRetiredSoFar();
        }
        else if (!_memory.Retired.TryDrainEverythingNow())
        {
            return false;
        }

        _memory.Pool.Dispose();
        _freed = true;
        return true;
    }

    private void ThrowIfInsideOwnRead(string member)
    {
        if (_memory.Epoch.IsEnteredByCurrentThread)
        {
            ThrowHelper.ThrowInvalidOperation($"ByteMap.{member} cannot be called from inside a read callback of the same map: it would wait for that callback to finish. Other maps may be used freely.");
        }
    }
}
