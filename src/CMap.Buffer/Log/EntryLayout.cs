using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace CMap.Buffer;

/// <summary>
/// The log's entry format. An entry is written once, published by an index word, and never changed again.
/// <code>
/// short form, 4 bytes, little-endian uint32 (key ≤ 255 bytes, value &lt; 4 MiB: almost every cache entry):
///   [22-bit value length][8-bit key length][1-bit has-expiry][1-bit form = 0]
/// long form, 8 bytes, little-endian uint64:
///   [15-bit reserved flags][31-bit value length][16-bit key length][1-bit has-expiry][1-bit form = 1]
/// then, when has-expiry is set, an 8-byte little-endian expiry (reserved for the expiry issue),
/// then the key bytes, then the value bytes. Entries are packed back to back with no padding.
/// </code>
/// </summary>
internal static unsafe class EntryLayout
{
    internal const int ShortHeaderSize = 4;
    internal const int LongHeaderSize = 8;
    internal const int ExpirySize = 8;

    internal const uint FormLongBit = 1u;
    internal const uint ExpiryBit = 1u << 1;

    private const int KeyShift = 2;
    private const int ShortKeyBits = 8;
    private const int ShortValueShift = KeyShift + ShortKeyBits;          // 10
    private const int ShortValueBits = 32 - ShortValueShift;              // 22
    private const int LongKeyBits = 16;
    private const int LongValueShift = KeyShift + LongKeyBits;           // 18
    private const int LongValueBits = 31;

    internal const int MaxShortKeyLength = (1 << ShortKeyBits) - 1;       // 255
    internal const int MaxShortValueLength = (1 << ShortValueBits) - 1;   // 4 MiB - 1
    internal const int MaxKeyLength = (1 << LongKeyBits) - 1;             // 65,535

    private const uint ShortKeyMask = (1u << ShortKeyBits) - 1;
    private const ulong LongKeyMask = (1ul << LongKeyBits) - 1;
    private const ulong LongValueMask = (1ul << LongValueBits) - 1;

    /// <summary>Bytes an entry with these lengths takes in the log, header included.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long SizeOf(int keyLength, int valueLength, bool hasExpiry)
    {
        int header = keyLength <= MaxShortKeyLength && valueLength <= MaxShortValueLength ? ShortHeaderSize : LongHeaderSize;
        return header + (hasExpiry ? ExpirySize : 0) + (long)keyLength + valueLength;
    }

    /// <summary>Writes an entry at <paramref name="destination"/>, which must have <see cref="SizeOf"/> bytes.</summary>
    internal static void Write(byte* destination, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long expiry = 0, bool hasExpiry = false)
    {
        Debug.Assert(key.Length <= MaxKeyLength);
        uint flags = hasExpiry ? ExpiryBit : 0;
        byte* p = destination;
        if (key.Length <= MaxShortKeyLength && value.Length <= MaxShortValueLength)
        {
            uint h = flags | ((uint)key.Length << KeyShift) | ((uint)value.Length << ShortValueShift);
            Unsafe.WriteUnaligned(p, h);
            p += ShortHeaderSize;
        }
        else
        {
            ulong h = FormLongBit | flags | ((ulong)key.Length << KeyShift) | ((ulong)value.Length << LongValueShift);
            Unsafe.WriteUnaligned(p, h);
            p += LongHeaderSize;
        }

        if (hasExpiry)
        {
            Unsafe.WriteUnaligned(p, expiry);
            p += ExpirySize;
        }

        key.CopyTo(new Span<byte>(p, key.Length));
        value.CopyTo(new Span<byte>(p + key.Length, value.Length));
    }

    /// <summary>Human-readable description of the header at <paramref name="entry"/>, for debugging and test failures.</summary>
    internal static string Describe(byte* entry)
    {
        var e = new EntryReader(entry);
        return $"Entry(form={(e.IsLongForm ? "long" : "short")}, key={e.KeyLength}, value={e.ValueLength}, expiry={(e.HasExpiry ? e.Expiry.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")}, size={e.TotalSize})";
    }

    internal static int KeyLengthOf(uint shortHeader) => (int)((shortHeader >> KeyShift) & ShortKeyMask);

    internal static int ValueLengthOf(uint shortHeader) => (int)(shortHeader >> ShortValueShift);

    internal static int KeyLengthOf(ulong longHeader) => (int)((longHeader >> KeyShift) & LongKeyMask);

    internal static int ValueLengthOf(ulong longHeader) => (int)((longHeader >> LongValueShift) & LongValueMask);
}

/// <summary>
/// Decodes one published entry in place. A <c>ref struct</c>, so the pointer it holds never outlives the
/// epoch-protected region (or shard lock) that made it safe to read.
/// </summary>
internal readonly unsafe ref struct EntryReader
{
    private readonly byte* _entry;
    private readonly int _headerSize;

    /// <summary>Key length in bytes.</summary>
    public readonly int KeyLength;

    /// <summary>Value length in bytes.</summary>
    public readonly int ValueLength;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public EntryReader(byte* entry)
    {
        _entry = entry;
        uint h = Unsafe.ReadUnaligned<uint>(entry);
        if ((h & EntryLayout.FormLongBit) == 0)
        {
            KeyLength = EntryLayout.KeyLengthOf(h);
            ValueLength = EntryLayout.ValueLengthOf(h);
            _headerSize = EntryLayout.ShortHeaderSize + ((h & EntryLayout.ExpiryBit) != 0 ? EntryLayout.ExpirySize : 0);
        }
        else
        {
            ulong lh = Unsafe.ReadUnaligned<ulong>(entry);
            KeyLength = EntryLayout.KeyLengthOf(lh);
            ValueLength = EntryLayout.ValueLengthOf(lh);
            _headerSize = EntryLayout.LongHeaderSize + ((h & EntryLayout.ExpiryBit) != 0 ? EntryLayout.ExpirySize : 0);
        }
    }

    public bool IsLongForm => (Unsafe.ReadUnaligned<uint>(_entry) & EntryLayout.FormLongBit) != 0;

    public bool HasExpiry => (Unsafe.ReadUnaligned<uint>(_entry) & EntryLayout.ExpiryBit) != 0;

    public long Expiry => HasExpiry ? Unsafe.ReadUnaligned<long>(_entry + (IsLongForm ? EntryLayout.LongHeaderSize : EntryLayout.ShortHeaderSize)) : 0;

    /// <summary>Header, key and value: the bytes this entry occupies in the log.</summary>
    public long TotalSize => _headerSize + (long)KeyLength + ValueLength;

    public ReadOnlySpan<byte> Key
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(_entry + _headerSize, KeyLength);
    }

    public ReadOnlySpan<byte> Value
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(_entry + _headerSize + KeyLength, ValueLength);
    }

    /// <summary>Full key comparison: a tag match in the index is only a hint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool KeyEquals(ReadOnlySpan<byte> key) => KeyLength == key.Length && Key.SequenceEqual(key);
}
