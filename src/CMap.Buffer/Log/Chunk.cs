using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CMap.Buffer;

/// <summary>
/// The first 64 bytes of every chunk: all of a chunk's metadata (a chunk in use has no managed object). Entries
/// follow at <see cref="Chunk.HeaderSize"/>. While the chunk is in a shard, every field is written by the shard's
/// writer under the shard lock, and statistics may read them racily; the pool writes a fresh header when it hands a
/// chunk out, and once the chunk is retired the retire list owns bytes 40–63 (<see cref="RetireLink"/>).
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
    /// Oversize blocks form an intrusive doubly-linked list per shard. Offset 40: once a chunk or block is retired,
    /// bytes 40–63 (these links and <see cref="SweepAt"/>) hold its <see cref="RetireLink"/>.
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
/// A block of native memory that a shard appends entries to, named by its header's address: a chunk has no managed
/// object while it is in use, so a map's chunks cost the garbage collector nothing to walk (its free chunks are held
/// by <see cref="ChunkPool"/>). Regular chunks are aligned to their own size (a power of two), so the chunk that holds
/// an entry is found from the entry's address alone: <c>base = address &amp; ~(size - 1)</c>. Oversize blocks hold one
/// entry at <see cref="HeaderSize"/>. <c>default</c> is no chunk.
/// </summary>
internal readonly unsafe struct Chunk : IEquatable<Chunk>
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

    private readonly ChunkHeader* _header;

    internal Chunk(ChunkHeader* header) => _header = header;

    /// <summary>True for <c>default</c>: no chunk.</summary>
    internal bool IsNull => _header == null;

    internal byte* Base => (byte*)_header;

    internal ChunkHeader* Header => _header;

    /// <summary>Total bytes of the chunk, header included (read from its header: only while the chunk is held).</summary>
    internal int Capacity => _header->Capacity;

    /// <summary>The chunk's size class (read from its header: only while the chunk is held).</summary>
    internal int SizeClass => _header->SizeClass;

    /// <summary>Payload bytes a fresh chunk of this capacity can take.</summary>
    internal static int PayloadCapacity(int capacity) => capacity - HeaderSize - TailPadding;

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

    /// <summary>Fills the payload with <paramref name="pattern"/> (use-after-free detection in tests); the header stays.</summary>
    internal void Poison(byte pattern) =>
        new Span<byte>(Base + HeaderSize, Capacity - HeaderSize).Fill(pattern);

    /// <summary>The header of the block that holds the entry at <paramref name="entry"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ChunkHeader* HeaderOf(byte* entry, int sizeClass, ReadOnlySpan<int> classSizes) =>
        sizeClass == OversizeClass
            ? (ChunkHeader*)(entry - HeaderSize)
            : (ChunkHeader*)((nuint)entry & ~((nuint)classSizes[sizeClass] - 1));

    public bool Equals(Chunk other) => _header == other._header;

    public override bool Equals(object? obj) => obj is Chunk other && Equals(other);

    public override int GetHashCode() => ((nint)_header).GetHashCode();

    public static bool operator ==(Chunk left, Chunk right) => left._header == right._header;

    public static bool operator !=(Chunk left, Chunk right) => left._header != right._header;

    public override string ToString() => _header == null ? "Chunk(none)" : _header->ToString();
}

/// <summary>Counters shared by a map's chunk pools. Written with Interlocked by any thread.</summary>
internal sealed class ChunkCounters
{
    internal long ChunksAllocated;
    internal long ChunksReturnedToOs;
    /// <summary>Managed holders of free chunks constructed (the pool's; in-use chunks have none).</summary>
    internal long ChunkObjectsCreated;
}
