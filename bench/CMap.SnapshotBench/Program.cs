using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using CMap;

namespace CMap.SnapshotBench;

/// <summary>
/// Snapshot and restore throughput (payload = key + value bytes; sink: a pre-sized MemoryStream; median of the
/// runs), each beside a naive enumerate-and-write baseline from the same run, and the longest writer pause of a
/// snapshot taken while a writer thread runs. Usage: <c>dotnet run -c Release --project bench/CMap.SnapshotBench
/// [-- --entries N --value-size N --runs N]</c>.
/// </summary>
internal static class Program
{
    private static int s_entries = 1_000_000;
    private static int s_valueSize = 100;
    private static int s_runs = 5;

    private static int Main(string[] args)
    {
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            int v = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--entries": s_entries = v; break;
                case "--value-size": s_valueSize = v; break;
                case "--runs": s_runs = v; break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        var config = new CMapConfig { Seed = 42, InitialCapacity = s_entries };
        using var map = new ByteMap(config);
        var rnd = new Random(1);
        var key = new byte[16];
        var value = new byte[s_valueSize];
        for (int i = 0; i < s_entries; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(key, i);
            BinaryPrimitives.WriteInt64LittleEndian(key.AsSpan(8), i * 31L);
            rnd.NextBytes(value);
            map.Insert(key, value);
        }

        long payload = (long)s_entries * (16 + s_valueSize);
        Console.WriteLine($"{s_entries:N0} entries x {s_valueSize} B (16-byte keys), payload {payload / 1e6:F1} MB, {s_runs} runs, {Environment.ProcessorCount} CPUs");

        var snapshot = new MemoryStream((int)(payload * 3 / 2));
        double[] snap = Runs(() => { snapshot.SetLength(0); map.Snapshot(snapshot); });
        byte[] image = snapshot.ToArray();
        double[] restore = Runs(() => { using ByteMap r = ByteMap.Restore(new MemoryStream(image, writable: false), config); });

        var naive = new MemoryStream((int)(payload * 3 / 2));
        double[] naiveSnap = Runs(() => { naive.SetLength(0); NaiveWrite(map, naive); });
        byte[] naiveImage = naive.ToArray();
        double[] naiveRestore = Runs(() => { using ByteMap r = NaiveRead(naiveImage, config); });

        Report("snapshot", payload, snap, "naive enumerate-and-write", naiveSnap);
        Report("restore", payload, restore, "naive read-and-insert", naiveRestore);
        Console.WriteLine($"snapshot stream {image.Length / 1e6:F1} MB ({(double)image.Length / payload:F2}x payload)");

        // Writer pause: a snapshot taken while one thread overwrites keys as fast as it can.
        bool stop = false;
        long writes = 0;
        var writer = new Thread(() =>
        {
            var k = new byte[16];
            var v = new byte[s_valueSize];
            var r = new Random(2);
            while (!Volatile.Read(ref stop))
            {
                BinaryPrimitives.WriteInt64LittleEndian(k, r.Next(s_entries));
                map.Insert(k, v);
                writes++;
            }
        });
        writer.Start();
        TimeSpan longest = TimeSpan.Zero;
        for (int i = 0; i < s_runs; i++)
        {
            snapshot.SetLength(0);
            CMapSnapshotInfo info = map.Snapshot(snapshot);
            longest = longest > info.LongestWriterPause ? longest : info.LongestWriterPause;
        }

        Volatile.Write(ref stop, true);
        writer.Join();
        Console.WriteLine($"longest writer pause over {s_runs} snapshots under a concurrent writer: {longest.TotalMilliseconds:F2} ms (one shard of {map.ShardCount}; {writes:N0} writes meanwhile)");
        return 0;
    }

    private static double[] Runs(Action run)
    {
        run(); // warm-up
        var seconds = new double[s_runs];
        for (int i = 0; i < s_runs; i++)
        {
            GC.Collect();
            long t = Stopwatch.GetTimestamp();
            run();
            seconds[i] = Stopwatch.GetElapsedTime(t).TotalSeconds;
        }

        return seconds;
    }

    private static void Report(string what, long payload, double[] s, string baseline, double[] b)
    {
        double median = Median(s), baseMedian = Median(b);
        Console.WriteLine($"{what}: {payload / median / 1e9:F2} GB/s median ({payload / s.Max() / 1e9:F2}-{payload / s.Min() / 1e9:F2}); " +
            $"{baseline}: {payload / baseMedian / 1e9:F2} GB/s; ratio {baseMedian / median:F2}x the baseline's throughput");
    }

    private static double Median(double[] v)
    {
        double[] sorted = [.. v.Order()];
        return sorted[sorted.Length / 2];
    }

    private static void NaiveWrite(ByteMap map, Stream stream)
    {
        Span<byte> lengths = stackalloc byte[8];
        foreach (ByteMap.Entry e in map)
        {
            BinaryPrimitives.WriteInt32LittleEndian(lengths, e.Key.Length);
            BinaryPrimitives.WriteInt32LittleEndian(lengths[4..], e.Value.Length);
            stream.Write(lengths);
            stream.Write(e.Key);
            stream.Write(e.Value);
        }
    }

    private static ByteMap NaiveRead(byte[] image, CMapConfig config)
    {
        var map = new ByteMap(config);
        ReadOnlySpan<byte> s = image;
        while (s.Length > 0)
        {
            int k = BinaryPrimitives.ReadInt32LittleEndian(s);
            int v = BinaryPrimitives.ReadInt32LittleEndian(s[4..]);
            map.Insert(s.Slice(8, k), s.Slice(8 + k, v));
            s = s[(8 + k + v)..];
        }

        return map;
    }
}
