using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CMap.Buffer;

/// <summary>
/// The first 64 bytes of every chunk. Entries follow at <see cref="Chunk.HeaderSize"/>.
/// Every field is written by the owning shard's writer under the shard lock; statistics may read them racily.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = Chunk.HeaderSize)]
internal unsafe struct ChunkHeader
{
    /// <summary>Bytes of entries that an index word points at.</summary>
    public long LiveBytes;

    /// <summary>Bytes of entries appended here that no index word points at any more.</summary>
    public long DeadBytes;

    /// <summary>Offset of the next append, from the chunk base (starts at <see cref="Chunk.HeaderSize"/>).</summary>
    public int Used;

    /// <summary>Total bytes of the block, header included.</summary>
    public int Capacity;

    /// <summary>Position of the chunk in its shard's chunk list, or -1 (oversize blocks are not in that list).</summary>
    public int ListIndex;

    /// <summary>Size class 0..6, or <see cref="Chunk.OversizeClass"/>.</summary>
    public byte SizeClass;

    /// <summary><see cref="Chunk.PinnedFlag"/>: the compactor is moving entries out; only it may retire the chunk.</summary>
    public byte Flags;

    /// <summary>With a byte budget: <see cref="Chunk.ProbationRegion"/> (new entries) or <see cref="Chunk.MainRegion"/>.</summary>
    public byte Region;

    /// <summary>The shard's seal count when this chunk stopped being its tail: how old the chunk is.</summary>
    public int SealedAt;

    /// <summary>
    /// Oversize blocks form an intrusive doubly-linked list per shard. Offset 40: once a block is unlinked and
    /// retired, these bytes hold its <see cref="RetireLink"/>.
    /// </summary>
    public ChunkHeader* Prev;

    public ChunkHeader* Next;

    /// <summary>
    /// Offset 56: a lower bound on the deadline of every entry appended here (long.MaxValue: none expire), so an
    /// expiry sweep reads chunk headers, never entries, to find the chunks worth sweeping. Raised after a sweep to
    /// the next sweep's time.
    /// </summary>
    public long SweepAt;

    public override readonly string ToString() =>
        $"Chunk(class={SizeClass}, capacity={Capacity}, used={Used}, live={LiveBytes}, dead={DeadBytes}, index={ListIndex}, flags={Flags}, region={Region}, sealedAt={SealedAt})";
}

/// <summary>
/// A block of native memory that a shard appends entries to. Regular chunks are aligned to their own size (a
/// power of two), so the chunk that holds an entry is found from the entry's address alone:
/// <c>base = address &amp; ~(size - 1)</c>. Oversize blocks hold one entry at <see cref="HeaderSize"/>.
/// </summary>
internal sealed unsafe class Chunk : IDisposable
{
    internal const int HeaderSize = 64;

    /// <summary>Bytes left unused at the end of a chunk, so an 8-byte header read never crosses the block.</summary>
    internal const int TailPadding = 8;

    /// <summary>Size classes are 0..6; 7 marks an oversize block. Three bits in an index word (see IndexWord).</summary>
    internal const int MaxSizeClasses = 7;
    internal const int OversizeClass = 7;

    /// <summary>Header flag: the chunk is being compacted, so a writer that kills its last entry must not retire it.</summary>
    internal const byte PinnedFlag = 1;

    /// <summary>The eviction region of entries written by users (S3-FIFO's small, probationary queue).</summary>
    internal const byte ProbationRegion = 0;

    /// <summary>The eviction region of entries read while on probation, or readmitted from the ghost set.</summary>
    internal const byte MainRegion = 1;

    private readonly NativeArena _arena;
    private readonly ChunkPool? _owner;
    private byte* _base;

    internal Chunk(NativeArena arena, int capacity, int sizeClass, ChunkPool? owner = null)
    {
        _arena = arena;
        _owner = owner;
        Capacity = capacity;
        SizeClass = sizeClass;
        Rearm();
    }

    /// <summary>
    /// Gives a freed chunk object new native memory, so that chunk churn (compaction, pools trimming) does not
    /// allocate managed objects once warm. Throws out-of-memory and stays freed on failure.
    /// </summary>
    internal void Rearm()
    {
        _base = (byte*)_arena.Alloc((nuint)Capacity, (nuint)Capacity);
        Reset();
    }

    internal byte* Base => _base;

    /// <summary>True once the chunk's memory went back to the OS (until it is re-armed).</summary>
    internal bool IsFreed => _base == null;

    internal ChunkHeader* Header => (ChunkHeader*)_base;

    internal int Capacity { get; }

    internal int SizeClass { get; }

    /// <summary>
    /// Managed copy of the header's list index, kept in step by the owning shard under its lock: -1 once the chunk
    /// is retired. A compactor validates a chunk it chose earlier with this, never by reading the chunk's memory,
    /// which may have been freed since.
    /// </summary>
    internal int ListIndex { get; set; } = -1;

    /// <summary>The retire list's link while the chunk waits out its grace period (guarded by that list's lock).</summary>
    internal Chunk? RetiredNext { get; set; }

    /// <summary>The epoch the chunk was retired at (guarded by the retire list's lock).</summary>
    internal long RetiredEpoch { get; set; }

    /// <summary>Payload bytes a fresh chunk of this capacity can take.</summary>
    internal static int PayloadCapacity(int capacity) => capacity - HeaderSize - TailPadding;

    /// <summary>Makes the chunk empty again before it is handed out.</summary>
    internal void Reset() => InitHeader(Header, HeaderSize, Capacity, SizeClass);

    /// <summary>Writes a fresh header: nothing live or dead, in no list, in the probation region, never swept.</summary>
    internal static void InitHeader(ChunkHeader* h, int used, int capacity, int sizeClass)
    {
        *h = default;
        h->Used = used;
        h->Capacity = capacity;
        h->ListIndex = -1;
        h->SizeClass = (byte)sizeClass;
        h->SweepAt = long.MaxValue;
    }

    /// <summary>Fills the payload with <paramref name="pattern"/> (use-after-free detection in tests).</summary>
    internal void Poison(byte pattern) =>
        new Span<byte>(_base + HeaderSize, Capacity - HeaderSize).Fill(pattern);

    /// <summary>Returns the chunk's memory to the OS. Idempotent.</summary>
    public void Dispose()
    {
        byte* p = _base;
        if (p != null)
        {
            _base = null;
            _arena.Free(p, (nuint)Capacity);
            _owner?.Shelve(this);
        }
    }

    /// <summary>The header of the block that holds the entry at <paramref name="entry"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ChunkHeader* HeaderOf(byte* entry, int sizeClass, ReadOnlySpan<int> classSizes) =>
        sizeClass == OversizeClass
            ? (ChunkHeader*)(entry - HeaderSize)
            : (ChunkHeader*)((nuint)entry & ~((nuint)classSizes[sizeClass] - 1));

    public override string ToString() => _base == null ? "Chunk(freed)" : Header->ToString();
}

/// <summary>Counters shared by a map's chunk pools. Written with Interlocked by any thread.</summary>
internal sealed class ChunkCounters
{
    internal long ChunksAllocated;
    internal long ChunksReturnedToOs;
    /// <summary>Managed <see cref="Chunk"/> objects constructed (the rest were re-armed shells).</summary>
    internal long ChunkObjectsCreated;
}
