namespace CMap;

/// <summary>
/// A point-in-time view of a <see cref="ByteMap"/>, read without stopping it: each figure is exact for its shard
/// at the moment it was read, and the sums may mix moments when writers are active.
/// </summary>
public readonly record struct CMapStatistics
{
    /// <summary>Entries in the map.</summary>
    public long Count { get; init; }

    /// <summary>Log bytes of the live entries (header, key and value).</summary>
    public long LiveBytes { get; init; }

    /// <summary>Log bytes of entries no index word points at (overwritten or deleted): what compaction can reclaim.</summary>
    public long DeadBytes { get; init; }

    /// <summary>
    /// The unused ends of sealed chunks (tail waste), counted apart from <see cref="DeadBytes"/>: moving entries does
    /// not free them, since the copies would leave the same waste at the end of another chunk.
    /// </summary>
    public long SlackBytes { get; init; }

    /// <summary>Bytes of the chunks the shards hold (live, dead and not yet written).</summary>
    public long ChunkBytes { get; init; }

    /// <summary>Bytes of the blocks that hold one large entry each.</summary>
    public long OversizeBytes { get; init; }

    /// <summary>Bytes of the shards' index tables (with their side arrays) and of their chunk lists (8 bytes per chunk).</summary>
    public long IndexBytes { get; init; }

    /// <summary>Native bytes this map has allocated and not freed: shards, retired memory and pooled chunks.</summary>
    public long NativeBytes { get; init; }

    /// <summary>Retired bytes waiting for this map's readers to move on before they are freed (held back by readers).</summary>
    public long PendingRetiredBytes { get; init; }

    /// <summary>Index tables rebuilt (grown, shrunk or purged of tombstones) since the map was created.</summary>
    public long IndexRebuilds { get; init; }

    /// <summary>Chunks allocated from the OS since the map was created.</summary>
    public long ChunksAllocated { get; init; }

    /// <summary>Chunks freed back to the OS since the map was created.</summary>
    public long ChunksReturnedToOs { get; init; }

    /// <summary>Compaction passes run (background and <see cref="ByteMap.Compact"/>).</summary>
    public long CompactionPasses { get; init; }

    /// <summary>Chunks emptied by compaction and retired.</summary>
    public long ChunksCompacted { get; init; }

    /// <summary>Bytes of live entries compaction copied to new chunks.</summary>
    public long CompactionBytesMoved { get; init; }

    /// <summary>Chunk bytes compaction gave back (chunk capacity minus the bytes moved out of it).</summary>
    public long CompactionBytesReclaimed { get; init; }

    /// <summary>Background compaction failures (for example out of memory); the map stays consistent after each.</summary>
    public long CompactionErrors { get; init; }

    /// <summary>The last background compaction failure, or null.</summary>
    public System.Exception? LastCompactionError { get; init; }

    /// <summary>The byte budget (<see cref="CMapConfig.MaxBytes"/>), or null when the map is unbounded.</summary>
    public long? MaxBytes { get; init; }

    /// <summary>
    /// Reads that found their key (Get, TryGet, TryRead, ContainsKey, Refresh and GetOrInsert's lookup). Exact: each
    /// thread counts in its own slot, summed here; a figure the map passed through while reads run.
    /// </summary>
    public long Hits { get; init; }

    /// <summary>Reads that did not find their key, or found it expired. Exact, as <see cref="Hits"/>.</summary>
    public long Misses { get; init; }

    /// <summary>Entries evicted to stay within <see cref="MaxBytes"/>. Exact.</summary>
    public long Evictions { get; init; }

    /// <summary>Expired entries removed (by the expiry sweep, eviction, compaction, or a write that found one). Exact.</summary>
    public long Expirations { get; init; }

    /// <summary>Entries removed by <see cref="ByteMap.Delete"/>. Exact.</summary>
    public long Removals { get; init; }
}
