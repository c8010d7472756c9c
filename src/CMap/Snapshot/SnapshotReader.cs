using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO;
using System.IO.Hashing;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// Reads a snapshot into a new map, checking everything: magic, version, header fingerprint, every section's header
/// and length, every record's lengths against the map's limits and its checksum, the footer's counts and the whole
/// stream's checksum. It reads exactly the bytes it needs (never past the snapshot's end). Any failure is an
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
        long records_read = 0, payload = 0;
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
            long bytes = BinaryPrimitives.ReadInt64LittleEndian(s[16..]);
            if (count < 0 || bytes < 0 || bytes > Array.MaxLength || bytes < (long)count * (SnapshotFormat.RecordFixedSize + SnapshotFormat.ChecksumSize))
            {
                Fail(sectionAt + 8, $"section {i} claims {count} records in {bytes} bytes");
            }

            ReadOnlySpan<byte> records = ReadSection((int)bytes, i);
            int offset = 0;
            for (int r = 0; r < count; r++)
            {
                payload += AddRecord(records, ref offset, _offset - bytes, now, nowUtc, clock);
                records_read++;
            }

            if (offset != records.Length)
            {
                Fail(_offset - bytes + offset, $"section {i} has {records.Length - offset} bytes after its {count} records");
            }
        }

        long footerAt = _offset;
        ReadOnlySpan<byte> f = Read(SnapshotFormat.FooterSize - 8, "footer");
        if (!f[..8].SequenceEqual(SnapshotFormat.FooterMagic))
        {
            Fail(footerAt, "the footer's magic \"CMAPEND!\" is missing");
        }

        if (BinaryPrimitives.ReadInt64LittleEndian(f[8..]) != records_read || BinaryPrimitives.ReadInt64LittleEndian(f[16..]) != payload)
        {
            Fail(footerAt + 8, $"the footer's counts do not match the {records_read} records and {payload} payload bytes read");
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

    /// <summary>Checks and adds the record at <paramref name="offset"/> of a section; returns its key and value bytes.</summary>
    private long AddRecord(ReadOnlySpan<byte> section, ref int offset, long sectionStart, long now, long nowUtc, ExpiryClock clock)
    {
        long at = sectionStart + offset;
        ReadOnlySpan<byte> rest = section[offset..];
        if (rest.Length < SnapshotFormat.RecordFixedSize)
        {
            Fail(at, "the section ends inside a record header");
        }

        byte flags = rest[0];
        int keyLength = BinaryPrimitives.ReadInt32LittleEndian(rest[1..]);
        int valueLength = BinaryPrimitives.ReadInt32LittleEndian(rest[5..]);
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
        if (size > rest.Length)
        {
            Fail(at, $"the record ({size} bytes) runs past its section's end");
        }

        ReadOnlySpan<byte> record = rest[..size];
        offset += size;
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
            if (windowTicks <= 0)
            {
                Fail(at + p, $"sliding window {windowTicks} is not positive");
            }

            p += 16;
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
            bool added = false;
            try
            {
                added = map.AddRestored(key, value, expiry, firstAccess);
            }
            catch (ArgumentException ex)
            {
                Fail(at, "the entry breaks the restoring map's limits: " + ex.Message);
            }

            if (!added)
            {
                Fail(at, "the key appears twice in the snapshot");
            }
        }

        return (long)keyLength + valueLength;
    }

    /// <summary>
    /// Reads a section's <paramref name="bytes"/> record bytes into the buffer, growing it only as data arrives (at
    /// most 4 MiB ahead of what was read), so a corrupt length cannot make it allocate what the stream does not hold.
    /// </summary>
    private ReadOnlySpan<byte> ReadSection(int bytes, int index)
    {
        int have = 0;
        while (have < bytes)
        {
            int step = Math.Min(bytes - have, Math.Max(4 << 20, have));
            if (_buffer.Length < have + step)
            {
                byte[] larger = ArrayPool<byte>.Shared.Rent(have + step);
                _buffer.AsSpan(0, have).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }

            int read = source.ReadAtLeast(_buffer.AsSpan(have, step), step, throwOnEndOfStream: false);
            if (read < step)
            {
                Fail(_offset + have + read, $"the stream ends inside section {index} ({have + read} of {bytes} record bytes)");
            }

            have += step;
        }

        ReadOnlySpan<byte> section = _buffer.AsSpan(0, bytes);
        _hasher.Append(section);
        _offset += bytes;
        return section;
    }

    /// <summary>Reads exactly <paramref name="count"/> (at most a few dozen) bytes, adding them to the whole-stream checksum.</summary>
    private ReadOnlySpan<byte> Read(int count, string what)
    {
        Span<byte> span = _buffer.AsSpan(0, count);
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
