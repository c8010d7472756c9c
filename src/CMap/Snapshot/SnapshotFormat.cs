using System;
using System.Buffers.Binary;
using System.IO.Hashing;

namespace CMap;

/// <summary>
/// The snapshot stream's layout (docs/snapshot-format.md). All integers little-endian.
/// <code>
/// header   "CMAPSNAP" | u16 version | u16 flags (0) | u32 shards | i32 source MaxValueLength | i64 created (UTC ticks)
///          | u64 fingerprint = XXH3 of the header bytes before it
/// section  per source shard: u32 "SHRD" | u32 shard index | u32 record count | u32 reserved (0) | i64 record bytes
///          then the records
/// record   u8 flags (1: deadline, 2: sliding) | u32 key length | u32 value length
///          | [i64 deadline, UTC ticks] | [i64 window, TimeSpan ticks | i64 sliding deadline, UTC ticks]
///          | key | value | u32 = low 32 bits of XXH3 of the record's bytes before it
/// footer   "CMAPEND!" | u64 records | u64 key and value bytes | u64 XXH3 of every byte of the stream before this field
/// </code>
/// Expiry is carried as wall-clock instants, so a snapshot restores on another machine's clock; an entry already
/// expired at restore is not restored.
/// </summary>
internal static class SnapshotFormat
{
    internal const ushort Version = 1;
    internal const int HeaderSize = 8 + 2 + 2 + 4 + 4 + 8 + 8;
    internal const int SectionHeaderSize = 24;
    internal const int FooterSize = 8 + 8 + 8 + 8;
    internal const int RecordFixedSize = 1 + 4 + 4;
    internal const int ChecksumSize = 4;
    internal const uint SectionTag = 0x44524853; // "SHRD"

    internal const byte DeadlineFlag = 1;
    internal const byte SlidingFlag = 2;
    internal const byte KnownFlags = DeadlineFlag | SlidingFlag;

    internal static ReadOnlySpan<byte> Magic => "CMAPSNAP"u8;

    internal static ReadOnlySpan<byte> FooterMagic => "CMAPEND!"u8;

    /// <summary>Bytes a record takes.</summary>
    internal static int RecordSize(byte flags, int keyLength, int valueLength) =>
        RecordFixedSize + ((flags & DeadlineFlag) != 0 ? 8 : 0) + ((flags & SlidingFlag) != 0 ? 16 : 0) + keyLength + valueLength + ChecksumSize;

    internal static uint Checksum(ReadOnlySpan<byte> bytes) => (uint)XxHash3.HashToUInt64(bytes);

    internal static void WriteHeader(Span<byte> h, int shards, int maxValueLength, long createdUtcTicks)
    {
        Magic.CopyTo(h);
        BinaryPrimitives.WriteUInt16LittleEndian(h[8..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(h[10..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], shards);
        BinaryPrimitives.WriteInt32LittleEndian(h[16..], maxValueLength);
        BinaryPrimitives.WriteInt64LittleEndian(h[20..], createdUtcTicks);
        BinaryPrimitives.WriteUInt64LittleEndian(h[28..], XxHash3.HashToUInt64(h[..28]));
    }
}
