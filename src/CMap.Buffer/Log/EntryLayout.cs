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
/// then, when has-expiry is set, an 8-byte little-endian expiry: [1-bit has-window][63-bit deadline], the deadline a
/// TimeProvider timestamp (long.MaxValue: none); then, when has-window is set, the 8-byte sliding window in timestamp
/// ticks. Then the key bytes, then the value bytes. Entries are packed back to back with no padding. An entry
/// without expiry has no expiry bytes at all.
/// </code>
/// </summary>
internal static unsafe class EntryLayout
{
    internal const int ShortHeaderSize = 4;
    internal const int LongHeaderSize = 8;
    internal const int ExpirySize = 8;
    internal const int WindowSize = 8;

    /// <summary>The deadline of an entry that has only a sliding window.</summary>
    internal const long NoDeadline = long.MaxValue;

    private const ulong WindowBit = 1ul << 63;

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
    internal static long SizeOf(int keyLength, int valueLength, in EntryExpiry expiry)
    {
        int header = keyLength <= MaxShortKeyLength && valueLength <= MaxShortValueLength ? ShortHeaderSize : LongHeaderSize;
        return header + expiry.FieldBytes + (long)keyLength + valueLength;
    }

    /// <summary>Writes an entry at <paramref name="destination"/>, which must have <see cref="SizeOf"/> bytes.</summary>
    internal static void Write(byte* destination, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, in EntryExpiry expiry)
    {
        Debug.Assert(key.Length <= MaxKeyLength);
        bool hasExpiry = expiry.IsSet;
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
            Debug.Assert(expiry.Deadline >= 0);
            Unsafe.WriteUnaligned(p, (ulong)expiry.Deadline | (expiry.Window > 0 ? WindowBit : 0));
            p += ExpirySize;
            if (expiry.Window > 0)
            {
                Unsafe.WriteUnaligned(p, expiry.Window);
                p += WindowSize;
            }
        }

        key.CopyTo(new Span<byte>(p, key.Length));
        value.CopyTo(new Span<byte>(p + key.Length, value.Length));
    }

    /// <summary>Human-readable description of the header at <paramref name="entry"/>, for debugging and test failures.</summary>
    internal static string Describe(byte* entry)
    {
        var e = new EntryReader(entry);
        return $"Entry(form={(e.IsLongForm ? "long" : "short")}, key={e.KeyLength}, value={e.ValueLength}, deadline={(e.HasExpiry ? e.Deadline.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")}, window={e.Window}, size={e.TotalSize})";
    }

    /// <summary>Bytes of the expiry field that starts at <paramref name="field"/> (an entry with the has-expiry bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int ExpiryFieldBytes(byte* field) =>
        (Unsafe.ReadUnaligned<ulong>(field) & WindowBit) != 0 ? ExpirySize + WindowSize : ExpirySize;

    internal static long DeadlineAt(byte* field) => (long)(Unsafe.ReadUnaligned<ulong>(field) & ~WindowBit);

    internal static long WindowAt(byte* field) =>
        (Unsafe.ReadUnaligned<ulong>(field) & WindowBit) != 0 ? Unsafe.ReadUnaligned<long>(field + ExpirySize) : 0;

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

    /// <summary>True when the entry has an expiry field (decoded from the header already loaded, so free to test).</summary>
    public readonly bool HasExpiry;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public EntryReader(byte* entry)
    {
        _entry = entry;
        uint h = Unsafe.ReadUnaligned<uint>(entry);
        if ((h & EntryLayout.FormLongBit) == 0)
        {
            KeyLength = EntryLayout.KeyLengthOf(h);
            ValueLength = EntryLayout.ValueLengthOf(h);
            _headerSize = EntryLayout.ShortHeaderSize;
        }
        else
        {
            ulong lh = Unsafe.ReadUnaligned<ulong>(entry);
            KeyLength = EntryLayout.KeyLengthOf(lh);
            ValueLength = EntryLayout.ValueLengthOf(lh);
            _headerSize = EntryLayout.LongHeaderSize;
        }

        HasExpiry = (h & EntryLayout.ExpiryBit) != 0;
        if (HasExpiry)
        {
            _headerSize += EntryLayout.ExpiryFieldBytes(entry + _headerSize);
        }
    }

    public bool IsLongForm => (Unsafe.ReadUnaligned<uint>(_entry) & EntryLayout.FormLongBit) != 0;

    private byte* ExpiryField => _entry + (IsLongForm ? EntryLayout.LongHeaderSize : EntryLayout.ShortHeaderSize);

    /// <summary>The absolute deadline (a timestamp), or <see cref="EntryLayout.NoDeadline"/>; only when <see cref="HasExpiry"/>.</summary>
    public long Deadline => HasExpiry ? EntryLayout.DeadlineAt(ExpiryField) : EntryLayout.NoDeadline;

    /// <summary>The sliding window in timestamp ticks, or 0.</summary>
    public long Window => HasExpiry ? EntryLayout.WindowAt(ExpiryField) : 0;

    /// <summary>The entry's expiry as written.</summary>
    public EntryExpiry Expiry => HasExpiry ? new EntryExpiry(Deadline, Window) : default;

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

/// <summary>
/// An entry's expiry in TimeProvider timestamp ticks: the absolute deadline (at least 1; <see cref="EntryLayout.NoDeadline"/>
/// when only a window is set) and the sliding window (0 for none). <c>default</c> is no expiry at all, which takes no
/// bytes in the entry.
/// </summary>
internal readonly struct EntryExpiry(long deadline, long window)
{
    public readonly long Deadline = deadline;
    public readonly long Window = window;

    /// <summary>False only for <c>default</c>: a set expiry has a deadline of at least 1 or a positive window.</summary>
    public bool IsSet => (Deadline | Window) != 0;

    /// <summary>Bytes the expiry adds to the entry.</summary>
    public int FieldBytes => !IsSet ? 0 : Window > 0 ? EntryLayout.ExpirySize + EntryLayout.WindowSize : EntryLayout.ExpirySize;
}
