using System;
using System.Globalization;

namespace CMap.HitRatio.Traces;

internal enum TraceKind
{
    /// <summary>Zipf(s) requests over the key universe.</summary>
    Zipf,

    /// <summary>The same Zipf, with a burst of one-time keys every scan interval.</summary>
    ZipfScan,

    /// <summary>Keys cycled in order, over a set of keys larger than the cache.</summary>
    Loop,
}

/// <summary>
/// A trace as named on the command line: <c>zipf-0.9</c>, <c>zipf-0.9-scan</c> or <c>loop</c> (any skew may be given).
/// </summary>
internal sealed record TraceSpec(TraceKind Kind, double Skew)
{
    public const string ZipfPrefix = "zipf-";
    public const string ScanSuffix = "-scan";
    public const string LoopName = "loop";

    public static string[] Defaults { get; } = ["zipf-0.7", "zipf-0.9", "zipf-1.1", "zipf-0.7-scan", "zipf-0.9-scan", "zipf-1.1-scan", LoopName];

    public string Name => Kind switch
    {
        TraceKind.Loop => LoopName,
        TraceKind.ZipfScan => ZipfPrefix + SkewText + ScanSuffix,
        _ => ZipfPrefix + SkewText,
    };

    public bool IsZipf => Kind is TraceKind.Zipf;

    private string SkewText => Skew.ToString("0.0##", CultureInfo.InvariantCulture);

    public static bool TryParse(string text, out TraceSpec? spec)
    {
        spec = null;
        string name = text.Trim().ToLowerInvariant();
        if (name == LoopName)
        {
            spec = new TraceSpec(TraceKind.Loop, 0);
            return true;
        }

        if (!name.StartsWith(ZipfPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        bool scan = name.EndsWith(ScanSuffix, StringComparison.Ordinal);
        string skew = name[ZipfPrefix.Length..(scan ? name.Length - ScanSuffix.Length : name.Length)];
        if (!double.TryParse(skew, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) || !(s > 0 && s <= 4))
        {
            return false;
        }

        spec = new TraceSpec(scan ? TraceKind.ZipfScan : TraceKind.Zipf, s);
        return true;
    }
}
