using System;
using System.Globalization;

namespace CMap.Bench;

/// <summary>Human-readable numbers for the tables and charts; always invariant culture.</summary>
public static class Format
{
    public static string Bytes(long bytes) => Math.Abs(bytes) switch
    {
        >= 1L << 30 => Invariant($"{bytes / (double)(1L << 30):0.00} GiB"),
        >= 1L << 20 => Invariant($"{bytes / (double)(1L << 20):0.0} MiB"),
        >= 1L << 10 => Invariant($"{bytes / (double)(1L << 10):0.0} KiB"),
        _ => Invariant($"{bytes} B"),
    };

    public static string PerEntry(double bytes) => Invariant($"{bytes:0.0} B");

    public static string Rate(double perSecond) => perSecond switch
    {
        >= 1e9 => Invariant($"{perSecond / 1e9:0.00} G/s"),
        >= 1e6 => Invariant($"{perSecond / 1e6:0.00} M/s"),
        >= 1e3 => Invariant($"{perSecond / 1e3:0.0} k/s"),
        _ => Invariant($"{perSecond:0} /s"),
    };

    public static string Nanoseconds(double ns) => ns switch
    {
        >= 1e9 => Invariant($"{ns / 1e9:0.00} s"),
        >= 1e7 => Invariant($"{ns / 1e6:0} ms"),
        >= 1e6 => Invariant($"{ns / 1e6:0.0} ms"),
        >= 1e4 => Invariant($"{ns / 1e3:0} µs"),
        >= 1e3 => Invariant($"{ns / 1e3:0.0} µs"),
        _ => Invariant($"{ns:0} ns"),
    };

    public static string Milliseconds(double ms) => ms == 0 ? "0 ms" : Nanoseconds(ms * 1e6);

    public static string Seconds(double s) => Invariant($"{s:0.00} s");

    /// <summary>Two decimals, or two significant digits below 0.1 (a 0.0004× ratio should not read as 0.00×).</summary>
    public static string Ratio(double ratio) => ratio < 0.1 ? Invariant($"{ratio:G2}×") : Invariant($"{ratio:0.00}×");

    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
