using System;

namespace CMap;

/// <summary>What <see cref="ByteMap.Snapshot"/> wrote.</summary>
public readonly record struct CMapSnapshotInfo
{
    /// <summary>Entries written (live and unexpired at their shard's instant).</summary>
    public long Entries { get; init; }

    /// <summary>Key and value bytes written (the payload).</summary>
    public long PayloadBytes { get; init; }

    /// <summary>Bytes written to the stream, framing included.</summary>
    public long StreamBytes { get; init; }

    /// <summary>The longest time one shard's writers waited while its image was copied (readers never wait).</summary>
    public TimeSpan LongestWriterPause { get; init; }
}
