using System;
using System.Buffers.Binary;
using System.Globalization;

namespace CMap.Tests.Support;

/// <summary>
/// Self-describing values for the concurrency tests, so a reader can judge any value it sees on its own:
/// <code>
/// [int32 key id][int32 writer id][int64 sequence][int32 total length][uint64 checksum][payload]
/// </code>
/// The checksum (FNV-1a 64) covers every byte except itself, and the payload is regenerated from
/// (key, writer, sequence) and compared as well. A torn value (bytes of two writes), a foreign value (another key's),
/// a truncated value or freed memory reused by someone else all fail <see cref="Verify"/>. The payload never contains
/// the pool's poison byte 0xDB, so a run of 0xDB is reported as use-after-free.
/// </summary>
public static class StressValue
{
    public const int HeaderSize = 28;

    /// <summary>The byte freed chunks are filled with when <c>CMapConfig.PoisonFreedChunks</c> is set (ChunkPool.PoisonByte).</summary>
    public const byte PoisonByte = 0xDB;

    /// <summary>A run of this many poison bytes in a value read from the map means the reader saw a freed chunk.</summary>
    public const int PoisonRun = 8;

    private const int KeyIdOffset = 0;
    private const int WriterOffset = 4;
    private const int SeqOffset = 8;
    private const int LengthOffset = 16;
    private const int ChecksumOffset = 20;

    /// <summary>The key for <paramref name="keyId"/>: the id, then 0 to 12 filler bytes, so key lengths vary.</summary>
    public static byte[] Key(int keyId)
    {
        var k = new byte[4 + (keyId % 13)];
        BinaryPrimitives.WriteInt32LittleEndian(k, keyId);
        k.AsSpan(4).Fill((byte)(0xA0 + (keyId % 7)));
        return k;
    }

    public static byte[][] Keys(int count)
    {
        var keys = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            keys[i] = Key(i);
        }

        return keys;
    }

    /// <summary>A value of <paramref name="length"/> bytes (at least <see cref="HeaderSize"/>).</summary>
    public static byte[] Create(int keyId, int writerId, long sequence, int length)
    {
        var v = new byte[Math.Max(HeaderSize, length)];
        Write(v, keyId, writerId, sequence);
        return v;
    }

    /// <summary>Fills all of <paramref name="destination"/> (its length is the value's length).</summary>
    public static void Write(Span<byte> destination, int keyId, int writerId, long sequence)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination[KeyIdOffset..], keyId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[WriterOffset..], writerId);
        BinaryPrimitives.WriteInt64LittleEndian(destination[SeqOffset..], sequence);
        BinaryPrimitives.WriteInt32LittleEndian(destination[LengthOffset..], destination.Length);
        FillPayload(destination[HeaderSize..], keyId, writerId, sequence);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[ChecksumOffset..], Checksum(destination));
    }

    public static int KeyIdOf(ReadOnlySpan<byte> value) => BinaryPrimitives.ReadInt32LittleEndian(value[KeyIdOffset..]);

    public static int WriterOf(ReadOnlySpan<byte> value) => BinaryPrimitives.ReadInt32LittleEndian(value[WriterOffset..]);

    public static long SequenceOf(ReadOnlySpan<byte> value) => BinaryPrimitives.ReadInt64LittleEndian(value[SeqOffset..]);

    /// <summary>Null when <paramref name="value"/> is an intact value of key <paramref name="expectedKeyId"/>; otherwise what is wrong.</summary>
    public static string? Verify(ReadOnlySpan<byte> value, int expectedKeyId)
    {
        int run = LongestRun(value, PoisonByte);
        if (run >= PoisonRun)
        {
            return string.Create(CultureInfo.InvariantCulture, $"USE-AFTER-FREE: {run} consecutive poison bytes 0xDB in a {value.Length}-byte value of key {expectedKeyId}: {ModelRules.Describe(value)}");
        }

        if (value.Length < HeaderSize)
        {
            return string.Create(CultureInfo.InvariantCulture, $"truncated value ({value.Length} bytes < header {HeaderSize}) for key {expectedKeyId}: {ModelRules.Describe(value)}");
        }

        int length = BinaryPrimitives.ReadInt32LittleEndian(value[LengthOffset..]);
        if (length != value.Length)
        {
            return string.Create(CultureInfo.InvariantCulture, $"length field {length} != actual length {value.Length} for key {expectedKeyId}: {ModelRules.Describe(value)}");
        }

        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(value[ChecksumOffset..]);
        ulong actual = Checksum(value);
        if (stored != actual)
        {
            return string.Create(CultureInfo.InvariantCulture, $"checksum mismatch (torn or corrupted) for key {expectedKeyId}: stored {stored:X16}, computed {actual:X16}, value {ModelRules.Describe(value)}");
        }

        int keyId = KeyIdOf(value);
        if (keyId != expectedKeyId)
        {
            return string.Create(CultureInfo.InvariantCulture, $"FOREIGN value: key {expectedKeyId} returned a value written for key {keyId} (writer {WriterOf(value)}, seq {SequenceOf(value)})");
        }

        Span<byte> expected = value.Length - HeaderSize <= 4096 ? stackalloc byte[value.Length - HeaderSize] : new byte[value.Length - HeaderSize];
        FillPayload(expected, keyId, WriterOf(value), SequenceOf(value));
        int diff = ModelRules.FirstDifference(expected, value[HeaderSize..]);
        if (diff >= 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"payload differs at byte {HeaderSize + diff} for key {expectedKeyId} (writer {WriterOf(value)}, seq {SequenceOf(value)}) although the checksum matched");
        }

        return null;
    }

    public static int LongestRun(ReadOnlySpan<byte> bytes, byte b)
    {
        int best = 0, cur = 0;
        foreach (byte x in bytes)
        {
            cur = x == b ? cur + 1 : 0;
            best = Math.Max(best, cur);
        }

        return best;
    }

    private static ulong Checksum(ReadOnlySpan<byte> value)
    {
        const ulong prime = 0x100000001B3;
        ulong h = 0xCBF29CE484222325;
        for (int i = 0; i < value.Length; i++)
        {
            if (i == ChecksumOffset)
            {
                i += sizeof(ulong) - 1;
                continue;
            }

            h = (h ^ value[i]) * prime;
        }

        return h;
    }

    private static void FillPayload(Span<byte> payload, int keyId, int writerId, long sequence)
    {
        ulong s = ((ulong)(uint)keyId << 32) ^ (uint)writerId ^ ((ulong)sequence * 0x9E3779B97F4A7C15);
        int i = 0;
        while (i < payload.Length)
        {
            // splitmix64
            s += 0x9E3779B97F4A7C15;
            ulong z = s;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            z ^= z >> 31;
            for (int b = 0; b < 8 && i < payload.Length; b++, i++)
            {
                byte x = (byte)(z >> (b * 8));
                payload[i] = x == PoisonByte ? (byte)0x5A : x;
            }
        }
    }
}
