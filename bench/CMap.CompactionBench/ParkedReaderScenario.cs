using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using CMap;

namespace CMap.CompactionBench;

/// <summary>
/// Write throughput with one reader parked (asleep) inside a <c>TryRead</c> callback, against the same writes with no
/// reader, in interleaved rounds (off, on, off, on, …), each on a fresh map. With 2733faf every retirement then drained
/// and issued a process-wide barrier, and writes fell to 0.49–0.65× (foundation issue, failure 3); the target is at
/// least 0.8×. A parked reader also keeps every chunk retired meanwhile from reaching the pool, so the writer gets
/// fresh chunks from the OS: that cost is part of what this measures.
/// </summary>
internal static class ParkedReaderScenario
{
    internal static void Run(StringBuilder report, int entries, int valueSize, double seconds, int rounds)
    {
        Console.Error.WriteLine("writes with a parked reader…");
        var without = new List<double>();
        var with = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            without.Add(Round(entries, valueSize, seconds, parked: false));
            with.Add(Round(entries, valueSize, seconds, parked: true));
        }

        double[] ratios = [.. with.Zip(without, (a, b) => a / b)];
        report.AppendLine("## Writes with a reader parked in a callback\n");
        report.AppendLine(CultureInfo.InvariantCulture, $"One writer overwriting random keys of {entries:N0} × {valueSize} B for {seconds:F1} s per round, {rounds} interleaved rounds each; the parked reader sleeps inside a `TryRead` callback for the whole round. Ratio = with / without, per round.\n");
        report.AppendLine("| figure | without a reader | with a parked reader | ratio |\n|---|---|---|---|");
        report.AppendLine(CultureInfo.InvariantCulture, $"| writes / s, median | {Median(without):N0} | {Median(with):N0} | **{Median(ratios):F2}** (min {ratios.Min():F2}, max {ratios.Max():F2}) |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| every round | {string.Join(", ", without.Select(x => x.ToString("N0", CultureInfo.InvariantCulture)))} | {string.Join(", ", with.Select(x => x.ToString("N0", CultureInfo.InvariantCulture)))} | {string.Join(", ", ratios.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))} |\n");
    }

    private static double Round(int entries, int valueSize, double seconds, bool parked)
    {
        using var map = new ByteMap(new CMapConfig { Seed = 5, InitialCapacity = entries });
        var keys = new byte[entries][];
        byte[] value = new byte[valueSize];
        for (int i = 0; i < entries; i++)
        {
            keys[i] = BitConverter.GetBytes(unchecked((ulong)i * 0x9E3779B97F4A7C15UL));
            map.Insert(keys[i], value);
        }

        using var inside = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        Thread? reader = null;
        if (parked)
        {
            reader = new Thread(() => map.TryRead(keys[0], 0, (_, _) =>
            {
                inside.Set();
                leave.Wait(TimeSpan.FromMinutes(1));
            }));
            reader.Start();
            if (!inside.Wait(TimeSpan.FromSeconds(30)))
            {
                throw new TimeoutException("the reader never entered its callback");
            }
        }

        var rnd = new Random(7);
        long writes = 0;
        var sw = Stopwatch.StartNew();
        long deadline = (long)(seconds * Stopwatch.Frequency);
        while (sw.ElapsedTicks < deadline)
        {
            for (int i = 0; i < 256; i++)
            {
                value[0] = (byte)i;
                map.Insert(keys[rnd.Next(entries)], value);
            }

            writes += 256;
        }

        double rate = writes / sw.Elapsed.TotalSeconds;
        leave.Set();
        reader?.Join(TimeSpan.FromSeconds(30));
        return rate;
    }

    private static double Median(IReadOnlyList<double> xs)
    {
        double[] s = [.. xs.Order()];
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[(s.Length / 2) - 1] + s[s.Length / 2]) / 2;
    }
}
