using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CMap;

namespace CMap.CompactionBench;

/// <summary>
/// How long an index rebuild holds its shard's writers: a one-shard map grows from empty to <c>entries</c> by inserts
/// of distinct keys, each timed. The inserts that rebuilt the index (its capacity doubles, re-hashing every key from
/// the log under the shard lock) are the slow ones; each is reported with the entries it re-hashed and the time per
/// entry. The log is far larger than the caches, so this is the cold rebuild a large shard pays.
/// </summary>
internal static class IndexRebuildScenario
{
    internal static void Run(StringBuilder report, int entries, int keySize, int valueSize, int rounds)
    {
        Console.Error.WriteLine("index rebuilds while a shard grows…");
        report.AppendLine(CultureInfo.InvariantCulture, $"## Index rebuilds (one shard grown to {entries:N0} entries, {rounds} rounds)\n");
        report.AppendLine("Each row: one rebuild, found as an insert during which the rebuild counter moved; its time is that insert's, the stall a writer of the shard sees.\n");
        report.AppendLine("| round | entries re-hashed | stall | per entry |\n|---:|---:|---:|---:|");
        var perEntry = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = (ulong)(7 + r), BackgroundCompaction = false });
            byte[] key = new byte[keySize];
            byte[] value = new byte[valueSize];
            long rebuilds = 0;
            for (int i = 0; i < entries; i++)
            {
                BitConverter.TryWriteBytes(key, (ulong)i * 0x9E3779B97F4A7C15UL);
                long t0 = Stopwatch.GetTimestamp();
                map.Insert(key, value);
                double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                if (us < 20)
                {
                    continue; // no rebuild is this fast beyond a few hundred entries; skip reading the counters
                }

                long now = map.GetStatistics().IndexRebuilds;
                if (now != rebuilds && i >= 65_536)
                {
                    double ns = us * 1000 / i;
                    perEntry.Add(ns);
                    report.AppendLine(CultureInfo.InvariantCulture, $"| {r + 1} | {i:N0} | {us / 1000:F2} ms | {ns:F1} ns |");
                }

                rebuilds = now;
            }
        }

        perEntry.Sort();
        double median = perEntry.Count == 0 ? double.NaN : perEntry[perEntry.Count / 2];
        report.AppendLine(CultureInfo.InvariantCulture, $"\n**Rebuild: {median:F1} ns per re-hashed entry (median of {perEntry.Count} rebuilds of at least 65,536 entries).**\n");
    }
}
