using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO;
using System.IO.Hashing;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// Reads a snapshot into a new map, checking everything: magic, version, header fingerprint, every record's lengths
/// against the map's limits and its checksum, every section's checksum, the footer's counts and the whole stream's
/// checksum. It reads exactly the bytes it needs (never past the snapshot's end). Any failure is an
/// <see cref="InvalidDataException"/> naming what was wrong and the offset; the caller disposes the map.
/// </summary>
internal sealed class SnapshotReader(Stream source, ByteMap map)
{
    private readonly XxHash3 _hasher = new();
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(4096);
    private long _offset;

    internal void ReadAll()
    {
        try
        {
            ReadAllCore();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }

    private void ReadAllCore()
    {
        ReadOnlySpan<byte> h = Read(SnapshotFormat.HeaderSize, "header");
        if (!h[..8].SequenceEqual(SnapshotFormat.Magic))
        {
            Fail(0, "the stream does not start with the snapshot magic \"CMAPSNAP\"");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(h[8..]);
        if (version != SnapshotFormat.Version)
        {
            Fail(8, $"snapshot format version {version} is not supported (this build reads version {SnapshotFormat.Version})");
        }

        if (BinaryPrimitives.ReadUInt64LittleEndian(h[28..]) != XxHash3.HashToUInt64(h[..28]))
        {
            Fail(28, "the header's fingerprint does not match the header");
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(h[10..]) != 0)
        {
            Fail(10, "unknown header flags");
        }

        int shards = BinaryPrimitives.ReadInt32LittleEndian(h[12..]);
        if (shards < 1 || shards > CMapConfig.MaxShardCount)
        {
            Fail(12, $"shard count {shards} is out of range");
        }

        ExpiryClock clock = map.Clock;
        long now = clock.Now();
        long nowUtc = clock.Time.GetUtcNow().UtcTicks;
        long records = 0, payload = 0;
        for (int i = 0; i < shards; i++)
        {
            long sectionAt = _offset;
            ReadOnlySpan<byte> s = Read(SnapshotFormat.SectionHeaderSize, "section header");
            if (BinaryPrimitives.ReadUInt32LittleEndian(s) != SnapshotFormat.SectionTag || BinaryPrimitives.ReadInt32LittleEndian(s[4..]) != i ||
                BinaryPrimitives.ReadInt32LittleEndian(s[12..]) != 0)
            {
                Fail(sectionAt, $"section {i}'s header is not a section header for shard {i}");
            }

            int count = BinaryPrimitives.ReadInt32LittleEndian(s[8..]);
            if (count < 0)
            {
                Fail(sectionAt + 8, $"section {i} claims {count} records");
            }

            var sectionHash = new XxHash3();
            for (int r = 0; r < count; r++)
            {
                payload += ReadRecord(sectionHash, now, nowUtc, clock);
                records++;
            }

            long sumAt = _offset;
            uint expected = (uint)sectionHash.GetCurrentHashAsUInt64();
            if (BinaryPrimitives.ReadUInt32LittleEndian(Read(SnapshotFormat.ChecksumSize, "section checksum")) != expected)
            {
                Fail(sumAt, $"section {i}'s checksum does not match its records");
            }
        }

        long footerAt = _offset;
        ReadOnlySpan<byte> f = Read(SnapshotFormat.FooterSize - 8, "footer");
        if (!f[..8].SequenceEqual(SnapshotFormat.FooterMagic))
        {
            Fail(footerAt, "the footer's magic \"CMAPEND!\" is missing");
        }

        if (BinaryPrimitives.ReadInt64LittleEndian(f[8..]) != records || BinaryPrimitives.ReadInt64LittleEndian(f[16..]) != payload)
        {
            Fail(footerAt + 8, $"the footer's counts do not match the {records} records and {payload} payload bytes read");
        }

        ulong whole = _hasher.GetCurrentHashAsUInt64();
        long wholeAt = _offset;
        if (BinaryPrimitives.ReadUInt64LittleEndian(Read(8, "stream checksum")) != whole)
        {
            Fail(wholeAt, "the stream's checksum does not match its bytes");
        }

        // A seekable stream must end here: bytes after the footer mean a damaged or concatenated file. (A stream that
        // cannot seek is read exactly to the snapshot's end and no further, so that snapshots can be embedded.)
        if (source.CanSeek && source.Position != source.Length)
        {
            Fail(_offset, $"{source.Length - source.Position} bytes follow the snapshot's end");
        }
    }

    /// <summary>Reads, checks and adds one record; returns its key and value bytes.</summary>
    private long ReadRecord(XxHash3 sectionHash, long now, long nowUtc, ExpiryClock clock)
    {
        long at = _offset;
        ReadOnlySpan<byte> head = Read(SnapshotFormat.RecordFixedSize, "record header", keepForRecord: true);
        byte flags = head[0];
        int keyLength = BinaryPrimitives.ReadInt32LittleEndian(head[1..]);
        int valueLength = BinaryPrimitives.ReadInt32LittleEndian(head[5..]);
        if ((flags & ~SnapshotFormat.KnownFlags) != 0)
        {
            Fail(at, $"record flags 0x{flags:X2} are not known");
        }

        if (keyLength < 0 || keyLength > ByteMap.MaxKeyLength)
        {
            Fail(at + 1, $"key length {keyLength} is over the limit of {ByteMap.MaxKeyLength} bytes (ByteMap.MaxKeyLength)");
        }

        if (valueLength < 0 || valueLength > map.MaxValueLength)
        {
            Fail(at + 5, $"value length {valueLength} is over the restoring map's CMapConfig.MaxValueLength of {map.MaxValueLength} bytes");
        }

        int size = SnapshotFormat.RecordSize(flags, keyLength, valueLength);
        ReadOnlySpan<byte> rest = Read(size - SnapshotFormat.RecordFixedSize, "record", keepForRecord: true, alreadyKept: SnapshotFormat.RecordFixedSize);
        ReadOnlySpan<byte> record = _buffer.AsSpan(0, size);
        sectionHash.Append(record);
        if (BinaryPrimitives.ReadUInt32LittleEndian(record[(size - SnapshotFormat.ChecksumSize)..]) != SnapshotFormat.Checksum(record[..(size - SnapshotFormat.ChecksumSize)]))
        {
            Fail(at, "the record's checksum does not match it");
        }

        int p = SnapshotFormat.RecordFixedSize;
        long deadline = EntryLayout.NoDeadline, window = 0, firstAccess = now;
        bool expired = false;
        if ((flags & SnapshotFormat.DeadlineFlag) != 0)
        {
            long utc = BinaryPrimitives.ReadInt64LittleEndian(record[p..]);
            p += 8;
            expired |= utc <= nowUtc;
            deadline = expired ? 1 : ExpiryClock.SaturatingAdd(now, clock.TicksFor(TimeSpan.FromTicks(utc - nowUtc)));
        }

        if ((flags & SnapshotFormat.SlidingFlag) != 0)
        {
            long windowTicks = BinaryPrimitives.ReadInt64LittleEndian(record[p..]);
            long slidingUtc = BinaryPrimitives.ReadInt64LittleEndian(record[(p + 8)..]);
            p += 16;
            if (windowTicks <= 0)
            {
                Fail(at + p - 16, $"sliding window {windowTicks} is not positive");
            }

            expired |= slidingUtc <= nowUtc;
            window = Math.Max(1, clock.TicksFor(TimeSpan.FromTicks(windowTicks)));

            // The last access that leaves the entry as long as it had: the window minus what remains of it.
            long remaining = expired ? 0 : clock.TicksFor(TimeSpan.FromTicks(Math.Min(slidingUtc - nowUtc, windowTicks)));
            firstAccess = Math.Max(1, now - (window - remaining));
        }

        if (!expired)
        {
            ReadOnlySpan<byte> key = record.Slice(p, keyLength);
            ReadOnlySpan<byte> value = record.Slice(p + keyLength, valueLength);
            var expiry = deadline == EntryLayout.NoDeadline && window == 0 ? default : new EntryExpiry(Math.Max(1, deadline), window);
            bool added;
            try
            {
                added = map.AddRestored(key, value, expiry, firstAccess);
            }
            catch (ArgumentException ex)
            {
                Fail(at, "the entry breaks the restoring map's limits: " + ex.Message);
                return 0;
            }

            if (!added)
            {
                Fail(at, "the key appears twice in the snapshot");
            }
        }

        _ = rest;
        return (long)keyLength + valueLength;
    }

    /// <summary>
    /// Reads exactly <paramref name="count"/> bytes, adding them to the whole-stream checksum. With
    /// <paramref name="keepForRecord"/>, they are kept at <paramref name="alreadyKept"/> in the record buffer (after the
    /// record's bytes read so far), so a record is checked as one span.
    /// </summary>
    private ReadOnlySpan<byte> Read(int count, string what, bool keepForRecord = false, int alreadyKept = 0)
    {
        int start = keepForRecord ? alreadyKept : 0;
        if (_buffer.Length < start + count)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(start + count);
            _buffer.AsSpan(0, start).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        Span<byte> span = _buffer.AsSpan(start, count);
        int read = source.ReadAtLeast(span, count, throwOnEndOfStream: false);
        if (read < count)
        {
            Fail(_offset + read, $"the stream ends inside the {what} ({read} of {count} bytes)");
        }

        _hasher.Append(span);
        _offset += count;
        return span;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Fail(long offset, string what) =>
        throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"Not a valid CMap snapshot: {what} (at byte offset {offset})."));
}
