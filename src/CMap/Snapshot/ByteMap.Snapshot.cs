using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.IO.Hashing;

namespace CMap;

// Snapshot and restore (docs/snapshot-format.md).
public sealed partial class ByteMap
{
    /// <summary>
    /// Writes an image of the map to <paramref name="destination"/> while other threads go on using it. Each shard is
    /// captured at its own instant, not the whole map at one instant: a write to one shard may be in the image and
    /// a later write to another shard not. Capturing a shard copies its live entries into a pooled buffer under that
    /// shard's lock, so only that shard's writers pause, for the copy of one shard (reported as
    /// <see cref="CMapSnapshotInfo.LongestWriterPause"/>); readers never pause, and the stream is written with no lock
    /// held. The image pins none of the map's native memory (the copy is managed, one shard at a time). Deleted keys
    /// are never in it, and expired entries are left out; expiry is carried as wall-clock instants.
    /// </summary>
    /// <param name="destination">A writable stream; written sequentially, never sought.</param>
    /// <returns>What was written.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not writable.</exception>
    /// <exception cref="IOException">The stream failed; what it holds is not a valid snapshot, and the map is unaffected.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public CMapSnapshotInfo Snapshot(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanWrite)
        {
            throw new ArgumentException("The snapshot destination stream is not writable.", nameof(destination));
        }

        ThrowIfDisposed();
        long now = _clock.Now();
        long nowUtc = _clock.Time.GetUtcNow().UtcTicks;
        var hasher = new XxHash3();
        var buffer = default(EntryBuffer);
        long entries = 0, payload = 0, streamBytes = 0, longestPause = 0;
        Span<byte> frame = stackalloc byte[SnapshotFormat.HeaderSize];
        try
        {
            SnapshotFormat.WriteHeader(frame, _shards.Length, _maxValueLength, nowUtc);
            Emit(destination, hasher, frame, ref streamBytes);
            for (int i = 0; i < _shards.Length; i++)
            {
                buffer.Reset();
                ref Shard shard = ref _shards[i];

                // Sized before the lock, so that the copy under it never grows the buffer (the writers' pause is a copy).
                buffer.EnsureCapacity(shard.LiveBytes + (shard.Count * (SnapshotFormat.RecordFixedSize + SnapshotFormat.ChecksumSize + 24)) + 4096);
                long started = Stopwatch.GetTimestamp();
                int count = shard.CopySnapshotRecordsAtOneInstant(ref buffer, now, nowUtc, out long shardPayload);
                longestPause = Math.Max(longestPause, Stopwatch.GetTimestamp() - started);
                Shard.SealSnapshotRecords(buffer.WrittenMutable);

                Span<byte> section = frame[..SnapshotFormat.SectionHeaderSize];
                BinaryPrimitives.WriteUInt32LittleEndian(section, SnapshotFormat.SectionTag);
                BinaryPrimitives.WriteInt32LittleEndian(section[4..], i);
                BinaryPrimitives.WriteInt32LittleEndian(section[8..], count);
                BinaryPrimitives.WriteInt32LittleEndian(section[12..], 0);
                BinaryPrimitives.WriteInt64LittleEndian(section[16..], buffer.Length);
                Emit(destination, hasher, section, ref streamBytes);
                Emit(destination, hasher, buffer.Written, ref streamBytes);
                entries += count;
                payload += shardPayload;
            }

            Span<byte> footer = frame[..(SnapshotFormat.FooterSize - 8)];
            SnapshotFormat.FooterMagic.CopyTo(footer);
            BinaryPrimitives.WriteInt64LittleEndian(footer[8..], entries);
            BinaryPrimitives.WriteInt64LittleEndian(footer[16..], payload);
            Emit(destination, hasher, footer, ref streamBytes);
            Span<byte> whole = frame[..8];
            BinaryPrimitives.WriteUInt64LittleEndian(whole, hasher.GetCurrentHashAsUInt64());
            destination.Write(whole);
            streamBytes += 8;
        }
        finally
        {
            buffer.Release();
        }

        GC.KeepAlive(this); // [E8]
        return new CMapSnapshotInfo
        {
            Entries = entries,
            PayloadBytes = payload,
            StreamBytes = streamBytes,
            LongestWriterPause = Stopwatch.GetElapsedTime(0, longestPause),
        };
    }

    /// <summary>
    /// Builds a map with <paramref name="config"/> from a stream <see cref="Snapshot"/> wrote. Keys are hashed again
    /// with the new map's seed, so the seeds need not match. Entries that expired since the snapshot are not
    /// restored. The stream is read exactly up to the snapshot's end, never past it; a seekable stream must end there.
    /// </summary>
    /// <param name="source">A readable stream positioned at a snapshot.</param>
    /// <param name="config">The new map's settings; its limits apply to every entry.</param>
    /// <returns>The restored map.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="source"/> is not readable, or a setting is out of range.</exception>
    /// <exception cref="InvalidDataException">The stream is not a valid snapshot (truncated, corrupt, a wrong magic or
    /// version, a length over a limit of <paramref name="config"/>, a duplicate key, bytes after the end of a seekable
    /// stream): the message names what was wrong
    /// and the offset. No map is returned and none is left behind.</exception>
    /// <exception cref="IOException">The stream failed.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; no map is left behind.</exception>
    public static ByteMap Restore(Stream source, CMapConfig config)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(config);
        if (!source.CanRead)
        {
            throw new ArgumentException("The snapshot source stream is not readable.", nameof(source));
        }

        var map = new ByteMap(config);
        try
        {
            new SnapshotReader(source, map).ReadAll();
            return map;
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    private static void Emit(Stream destination, XxHash3 hasher, ReadOnlySpan<byte> bytes, ref long written)
    {
        hasher.Append(bytes);
        destination.Write(bytes);
        written += bytes.Length;
    }

    /// <summary>Adds one restored entry; false when the key is already present (a duplicate in the snapshot).</summary>
    internal bool AddRestored(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, in CMap.Buffer.EntryExpiry expiry, long firstAccess)
    {
        CheckLengths(key, value, expiry);
        var op = new AddOnly(value);
        return Write(key, ref op, expiry, firstAccess) == WriteOutcome.Added;
    }

    internal ExpiryClock Clock => _clock;

    internal int MaxValueLength => _maxValueLength;
}
