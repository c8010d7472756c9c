using System;
using System.Diagnostics;
using System.Globalization;

namespace CMap.Compare;

/// <summary>
/// A worker's progress, as lines on its standard output that the coordinator turns into progress bars:
/// <c>{Prefix}{step}\t{fraction}\t{phase}</c>, at most ten a second, one at least at each new phase.
/// </summary>
internal sealed class WorkerProgress
{
    public const string Prefix = "##cmap-compare-progress ";

    /// <summary>Phases a worker goes through: keys, load, forced GC, verify, three warm-up + timed pairs, latency.</summary>
    public const int Steps = 11;

    private static readonly long s_refreshTicks = Stopwatch.Frequency / 10;

    private string _phase = "";
    private int _step = -1;
    private long _lastWrite;

    public void Report(string phase, double fraction)
    {
        long now = Stopwatch.GetTimestamp();
        if (phase != _phase)
        {
            _phase = phase;
            _step++;
        }
        else if (now - _lastWrite < s_refreshTicks)
        {
            return;
        }

        _lastWrite = now;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Prefix}{_step}\t{Math.Clamp(fraction, 0, 1):0.###}\t{phase}"));
        Console.Out.Flush();
    }

    /// <summary>Reads a line written by <see cref="Report"/>: the worker's overall fraction done, and its phase.</summary>
    public static bool TryParse(string line, out double done, out string phase)
    {
        done = 0;
        phase = "";
        if (!line.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        string[] parts = line[Prefix.Length..].Split('\t', 3);
        if (parts.Length != 3
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int step)
            || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double fraction))
        {
            return false;
        }

        done = Math.Clamp((step + fraction) / Steps, 0, 1);
        phase = parts[2];
        return true;
    }
}
