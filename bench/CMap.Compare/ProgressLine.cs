using System;
using System.Diagnostics;
using System.Globalization;

namespace CMap.Compare;

/// <summary>
/// Progress on stderr. On a terminal: one line rewritten in place, at most ten times a second. Redirected: a line
/// when a phase starts and at each quarter of it, so logs stay short.
/// </summary>
internal sealed class ProgressLine(string prefix)
{
    private static readonly long s_refreshTicks = Stopwatch.Frequency / 10;

    private readonly bool _interactive = !Console.IsErrorRedirected;
    private string _phase = "";
    private int _quarter = -1;
    private long _lastWrite;
    private int _lastLength;

    /// <summary>Reports <paramref name="fraction"/> (0 to 1) of <paramref name="phase"/> done.</summary>
    public void Report(string phase, double fraction)
    {
        bool newPhase = phase != _phase;
        _phase = phase;
        if (_interactive)
        {
            long now = Stopwatch.GetTimestamp();
            if (newPhase || now - _lastWrite >= s_refreshTicks)
            {
                _lastWrite = now;
                Overwrite(string.Create(CultureInfo.InvariantCulture, $"[{prefix}] {phase} {fraction,4:P0}"));
            }

            return;
        }

        int quarter = (int)(Math.Clamp(fraction, 0, 1) * 4);
        if (newPhase || quarter > _quarter)
        {
            _quarter = quarter;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{prefix}] {phase} {fraction:P0}"));
        }
    }

    /// <summary>Ends the progress display with a permanent line.</summary>
    public void Finish(string message)
    {
        if (_interactive)
        {
            Overwrite("");
            Console.Error.Write('\r');
        }

        Console.Error.WriteLine($"[{prefix}] {message}");
        _phase = "";
    }

    private void Overwrite(string text)
    {
        Console.Error.Write('\r' + text.PadRight(_lastLength));
        _lastLength = text.Length;
    }
}
