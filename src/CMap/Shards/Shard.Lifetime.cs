using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>Emptying and tearing down a shard while readers may still be inside [I5].</summary>
internal unsafe partial struct Shard
{
    /// <summary>Empties the shard and retires its memory. Safe while readers are active [I5].</summary>
    internal void Clear()
    {
        using ShardLock.Scope scope = _lock.EnterScope();
        ThrowIfDisposedUnsynchronized();
        IndexTable* fresh = IndexTable.Allocate(Arena, _minCapacity);
        var old = (IndexTable*)_table;
        // [I2] Publish the empty table before retiring anything the old one points at.
        Volatile.Write(ref _table, (nint)fresh);
        RetireTableUnsynchronized(old);
        ReleaseLogUnsynchronized();
        Volatile.Write(ref _indexBytes, IndexTable.BytesFor(_minCapacity));
    }

    /// <summary>Retires every byte the shard holds. Afterwards every writer call throws.</summary>
    internal void Dispose()
    {
        using ShardLock.Scope scope = _lock.EnterScope();
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        RetireTableUnsynchronized((IndexTable*)_table);
        ReleaseLogUnsynchronized();
        Volatile.Write(ref _indexBytes, 0);
    }

    private void ReleaseLogUnsynchronized()
    {
        // A compactor between batches sees the change and drops the chunk it was moving (now retired).
        Volatile.Write(ref _generation, _generation + 1);
        foreach (Chunk c in _chunks)
        {
            Retired.Retire(c);
        }

        _chunks.Free(Arena); // no reader ever reads the list, and every walk checks the generation or _disposed first
        _tail = default;
        _mainTail = default;
        _sizeClass = 0;
        RetireBlocksUnsynchronized(ref _probationBlocks);
        RetireBlocksUnsynchronized(ref _mainBlocks);
        _mainBytes = 0;
        _nextSweepAt = long.MaxValue;
        Volatile.Write(ref _count, 0);
        Volatile.Write(ref _liveBytes, 0);
        Volatile.Write(ref _deadBytes, 0);
        Volatile.Write(ref _slackBytes, 0);
        Volatile.Write(ref _chunkBytes, 0);
        Volatile.Write(ref _oversizeBytes, 0);
        _requestFloor = _settings.CompactionMinDeadBytes;
    }

    private void RetireBlocksUnsynchronized(ref BlockList list)
    {
        for (ChunkHeader* h = list.Head; h != null;)
        {
            ChunkHeader* next = h->Next; // read before Retire reuses the header's link bytes
            Retired.Retire(h, h->Capacity, reusable: true);
            h = next;
        }

        list = default;
    }
}
