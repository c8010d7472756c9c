using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using CMap;
using HdrHistogram;
using Latency = CMap.Bench.Latency;

namespace CMap.CompactionBench;

/// <summary>
/// Measures what the compaction issue asks for, each figure next to its baseline from the same run:
/// compaction throughput, writer stall and Get latency with and without compaction running, and native bytes
/// before and after the churn scenarios, and write throughput with a reader parked in a callback. Usage: <c>dotnet run -c Release --project bench/CMap.CompactionBench
/// [-- --entries N --value-size N --seconds S --big N --out DIR --only all|rebuild|throughput]</c>.
/// </summary>
internal static class Program
{
    private const int KeySize = 16;

    private static int s_entries = 1_000_000;
    private static int s_valueSize = 100;
    private static double s_seconds = 5;
    private static int s_bigEntries = 10_000_000;
    private static string s_out = Path.Combine("artifacts", "compaction");
    private static string s_only = "all";

    private static int Main(string[] args)
    {
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            string v = args[i + 1];
            switch (args[i])
            {
                case "--entries": s_entries = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--value-size": s_valueSize = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--seconds": s_seconds = double.Parse(v, CultureInfo.InvariantCulture); break;
                case "--big": s_bigEntries = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--out": s_out = v; break;
                case "--only": s_only = v; break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}; options: --entries --value-size --seconds --big --out --only (all, rebuild or throughput)");
                    return 2;
            }
        }

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"# Compaction benchmark\n\n`dotnet run -c Release --project bench/CMap.CompactionBench -- {string.Join(' ', args)}`\n");
        report.AppendLine(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} logical processors, {Environment.OSVersion}, .NET {Environment.Version}; {s_entries:N0} entries, {KeySize}-byte keys, {s_valueSize}-byte values.\n");

        if (s_only is not ("all" or "rebuild" or "throughput"))
        {
            Console.Error.WriteLine($"unknown --only {s_only}; use all, rebuild or throughput");
            return 2;
        }

        if (s_only is "all" or "throughput")
        {
            Throughput(report);
        }

        if (s_only == "all")
        {
            Stalls(report);
            ParkedReaderScenario.Run(report, Math.Min(s_entries, 200_000), s_valueSize, Math.Min(s_seconds, 1.5), rounds: 5);
            Churn(report);
        }

        if (s_only is "all" or "rebuild")
        {
            IndexRebuildScenario.Run(report, Math.Max(s_entries, 1_000_000), KeySize, s_valueSize, rounds: 3);
        }

        Directory.CreateDirectory(s_out);
        string path = Path.Combine(s_out, "report.md");
        File.WriteAllText(path, report.ToString());
        Console.WriteLine(report.ToString());
        Console.WriteLine($"written to {path}");
        return 0;
    }

    private static ByteMap NewMap(bool background) => new(new CMapConfig { Seed = 1, InitialCapacity = s_entries, BackgroundCompaction = background });

    private static byte[][] Keys(int n, int seed)
    {
        var rnd = new Random(seed);
        var keys = new byte[n][];
        for (int i = 0; i < n; i++)
        {
            keys[i] = new byte[KeySize];
            rnd.NextBytes(keys[i]);
            BitConverter.TryWriteBytes(keys[i], i); // unique
        }

        return keys;
    }

    /// <summary>
    /// Compact() after half the entries were overwritten: live MB moved per second. Three times, each on a fresh map:
    /// the first call of a process runs the compactor's code at tier 0 and copies into fresh (page-faulting) memory;
    /// the later ones show the steady state.
    /// </summary>
    private static void Throughput(StringBuilder report)
    {
        Console.Error.WriteLine("compaction throughput…");
        byte[][] keys = Keys(s_entries, 1);
        byte[] value = new byte[s_valueSize];
        report.AppendLine("## Compaction throughput\n");
        report.AppendLine("`Compact()` after half the entries were overwritten, three times in this process, each on a fresh map.\n");
        report.AppendLine("| call | live bytes moved | dead bytes before / after | native bytes before / after | Compact() time | throughput |\n|---|---|---|---|---|---|");
        var rates = new double[3];
        for (int call = 0; call < rates.Length; call++)
        {
            using ByteMap map = NewMap(background: false);
            foreach (byte[] k in keys)
            {
                map.Insert(k, value);
            }

            var rnd = new Random(2);
            for (int i = 0; i < s_entries / 2; i++)
            {
                map.Insert(keys[rnd.Next(s_entries)], value);
            }

            CMapStatistics before = map.GetStatistics();
            var sw = Stopwatch.StartNew();
            map.Compact();
            sw.Stop();
            CMapStatistics after = map.GetStatistics();
            double mb = (after.CompactionBytesMoved - before.CompactionBytesMoved) / 1e6;
            rates[call] = mb / sw.Elapsed.TotalSeconds;
            report.AppendLine(CultureInfo.InvariantCulture, $"| {(call == 0 ? "first (cold)" : $"{call + 1} (warm)")} | {mb:F1} MB | {before.DeadBytes / 1e6:F1} MB / {after.DeadBytes / 1e6:F1} MB | {before.NativeBytes / 1e6:F1} MB / {after.NativeBytes / 1e6:F1} MB | {sw.Elapsed.TotalMilliseconds:F0} ms | {rates[call]:F0} MB/s |");
        }

        report.AppendLine(CultureInfo.InvariantCulture, $"\n**Throughput: {rates[0]:F0} MB/s on the first call, {Math.Max(rates[1], rates[2]):F0} MB/s warm (best of calls 2 and 3).**\n");
    }

    /// <summary>
    /// One writer overwrites random keys (timing every Insert) and one reader gets random keys (timing every Get),
    /// first with background compaction off (the baseline), then on. With 30% dead bytes as the trigger, the
    /// compactor runs continuously during the second phase.
    /// </summary>
    private static void Stalls(StringBuilder report)
    {
        byte[][] keys = Keys(s_entries, 3);
        Phase off = RunPhase(keys, background: false);
        Phase on = RunPhase(keys, background: true);
        report.AppendLine("## Writer stall and Get latency, with and without compaction\n");
        report.AppendLine(CultureInfo.InvariantCulture, $"One writer overwriting random keys, one reader getting random keys, {s_seconds:F0} s each; latencies in µs. Ratio = compaction on / off.\n");
        report.AppendLine("| figure | compaction off | compaction on | ratio |\n|---|---|---|---|");
        Row(report, "writer p50", off.Writes.GetValueAtPercentile(50), on.Writes.GetValueAtPercentile(50));
        Row(report, "writer p99", off.Writes.GetValueAtPercentile(99), on.Writes.GetValueAtPercentile(99));
        Row(report, "writer p99.9", off.Writes.GetValueAtPercentile(99.9), on.Writes.GetValueAtPercentile(99.9));
        Row(report, "writer max", off.Writes.GetMaxValue(), on.Writes.GetMaxValue());
        Row(report, "Get p50", off.Reads.GetValueAtPercentile(50), on.Reads.GetValueAtPercentile(50));
        Row(report, "Get p99", off.Reads.GetValueAtPercentile(99), on.Reads.GetValueAtPercentile(99));
        Row(report, "Get p99.9", off.Reads.GetValueAtPercentile(99.9), on.Reads.GetValueAtPercentile(99.9));
        report.AppendLine(CultureInfo.InvariantCulture, $"| writes / s | {off.Writes.TotalCount / s_seconds:N0} | {on.Writes.TotalCount / s_seconds:N0} | {(double)on.Writes.TotalCount / off.Writes.TotalCount:F2} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| reads / s | {off.Reads.TotalCount / s_seconds:N0} | {on.Reads.TotalCount / s_seconds:N0} | {(double)on.Reads.TotalCount / off.Reads.TotalCount:F2} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| chunks compacted during the phase | {off.Compacted:N0} | {on.Compacted:N0} | |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| MB moved by the compactor | {off.Moved / 1e6:F0} | {on.Moved / 1e6:F0} | |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| dead bytes at the end | {off.DeadAtEnd / 1e6:F0} MB | {on.DeadAtEnd / 1e6:F0} MB | |\n");
    }

    private static void Row(StringBuilder report, string name, long offNs, long onNs) =>
        report.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {offNs / 1000.0:F2} | {onNs / 1000.0:F2} | {(offNs == 0 ? 0 : (double)onNs / offNs):F2} |");

    private sealed record Phase(LongHistogram Writes, LongHistogram Reads, long Compacted, long Moved, long DeadAtEnd);

    private static Phase RunPhase(byte[][] keys, bool background)
    {
        Console.Error.WriteLine($"latency phase, background compaction {(background ? "on" : "off")}…");
        using ByteMap map = NewMap(background);
        byte[] value = new byte[s_valueSize];
        foreach (byte[] k in keys)
        {
            map.Insert(k, value);
        }

        CMapStatistics start = map.GetStatistics();
        LongHistogram writes = Latency.NewHistogram();
        LongHistogram reads = Latency.NewHistogram();
        using var stop = new CancellationTokenSource();
        using var go = new Barrier(3);
        var writer = new Thread(() =>
        {
            var rnd = new Random(4);
            byte[] v = new byte[s_valueSize];
            go.SignalAndWait();
            while (!stop.IsCancellationRequested)
            {
                byte[] k = keys[rnd.Next(keys.Length)];
                long t0 = Stopwatch.GetTimestamp();
                map.Insert(k, v);
                writes.RecordValue(Latency.Since(t0));
            }
        });
        var reader = new Thread(() =>
        {
            var rnd = new Random(5);
            byte[] buffer = new byte[s_valueSize];
            go.SignalAndWait();
            while (!stop.IsCancellationRequested)
            {
                byte[] k = keys[rnd.Next(keys.Length)];
                long t0 = Stopwatch.GetTimestamp();
                map.TryGet(k, buffer, out _);
                reads.RecordValue(Latency.Since(t0));
            }
        });
        writer.Start();
        reader.Start();
        go.SignalAndWait();
        Thread.Sleep(TimeSpan.FromSeconds(s_seconds));
        stop.Cancel();
        writer.Join();
        reader.Join();
        CMapStatistics end = map.GetStatistics();
        return new Phase(writes, reads, end.ChunksCompacted - start.ChunksCompacted, end.CompactionBytesMoved - start.CompactionBytesMoved, end.DeadBytes);
    }

    /// <summary>The two churn scenarios of the issue, with native bytes at each step.</summary>
    private static void Churn(StringBuilder report)
    {
        Console.Error.WriteLine("churn scenarios…");
        report.AppendLine("## Native bytes through the churn scenarios\n");
        report.AppendLine("| scenario | step | native bytes | live bytes |\n|---|---|---|---|");
        using (var map = new ByteMap(new CMapConfig { Seed = 1 }))
        {
            Step(report, map, "1 M insert/delete pairs on one key", "empty map");
            byte[] key = new byte[KeySize];
            byte[] value = new byte[s_valueSize];
            for (int i = 0; i < 1_000_000; i++)
            {
                map.Insert(key, value);
                map.Delete(key);
            }

            Step(report, map, string.Empty, "after the pairs");
            map.Compact();
            Step(report, map, string.Empty, "after Compact()");
        }

        using (var map = new ByteMap(new CMapConfig { Seed = 2 }))
        {
            string name = $"{s_bigEntries / 1e6:F0} M entries (8-byte keys and values), 90% deleted";
            Step(report, map, name, "empty map");
            byte[] k = new byte[8];
            for (int i = 0; i < s_bigEntries; i++)
            {
                BitConverter.TryWriteBytes(k, i);
                map.Insert(k, k);
            }

            Step(report, map, string.Empty, "loaded");
            for (int i = 0; i < s_bigEntries; i++)
            {
                if (i % 10 != 0)
                {
                    BitConverter.TryWriteBytes(k, i);
                    map.Delete(k);
                }
            }

            Step(report, map, string.Empty, "90% deleted (background compaction)");
            map.Compact();
            Step(report, map, string.Empty, "after Compact()");
        }

        report.AppendLine();
    }

    private static void Step(StringBuilder report, ByteMap map, string scenario, string step)
    {
        CMapStatistics s = map.GetStatistics();
        report.AppendLine(CultureInfo.InvariantCulture, $"| {scenario} | {step} | {s.NativeBytes:N0} | {s.LiveBytes:N0} |");
    }
}
