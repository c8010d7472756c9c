using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace CMap.Tests.Support;

/// <summary>Content equality for <c>byte[]</c> keys of the reference model (a <see cref="Dictionary{TKey, TValue}"/>).</summary>
public sealed class ModelByteArrayComparer : IEqualityComparer<byte[]>
{
    public static readonly ModelByteArrayComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) =>
        ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    public int GetHashCode(byte[] obj)
    {
        var h = new HashCode();
        h.AddBytes(obj);
        return h.ToHashCode();
    }
}

/// <summary>Independent re-statements of the map's documented rules, used as the test oracle.</summary>
public static class ModelRules
{
    /// <summary>docs/design.md: a 4-byte header when key ≤ 255 bytes and value &lt; 4 MiB, else 8; then key and value.</summary>
    public static long EntrySize(int keyLength, int valueLength) =>
        (keyLength <= 255 && valueLength < (4 << 20) ? 4 : 8) + (long)keyLength + valueLength;

    /// <summary>Sum of <see cref="EntrySize"/> over a model: what <c>CMapStatistics.LiveBytes</c> must equal.</summary>
    public static long LiveBytes(Dictionary<byte[], byte[]> model)
    {
        long sum = 0;
        foreach (KeyValuePair<byte[], byte[]> kv in model)
        {
            sum += EntrySize(kv.Key.Length, kv.Value.Length);
        }

        return sum;
    }

    /// <summary>Short printable description of a byte array for failure messages: length and a hex prefix.</summary>
    public static string Describe(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"[{bytes.Length}B");
        if (bytes.Length > 0)
        {
            sb.Append(' ');
            int n = Math.Min(bytes.Length, 12);
            for (int i = 0; i < n; i++)
            {
                sb.Append(bytes[i].ToString("X2", CultureInfo.InvariantCulture));
            }

            if (n < bytes.Length)
            {
                sb.Append('…');
            }
        }

        sb.Append(']');
        return sb.ToString();
    }

    public static string Describe(byte[]? bytes) => bytes is null ? "null" : Describe(bytes.AsSpan());

    /// <summary>Index of the first difference, or -1 when equal (length differences count at the shorter length).</summary>
    public static int FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++)
        {
            if (a[i] != b[i])
            {
                return i;
            }
        }

        return a.Length == b.Length ? -1 : n;
    }
}
