using System;
using System.Collections.Generic;
using System.Diagnostics;
using CMap.Bench;
using CMap.HitRatio.Caches;
using CMap.HitRatio.Reporting;
using CMap.HitRatio.Traces;
using Trace = CMap.HitRatio.Traces.Trace;
using Spectre.Console;

namespace CMap.HitRatio;

/// <summary>Runs every cell (trace × cache size), each cache in turn on the same trace, and reports.</summary>
internal static class Matrix
{
    public static int Run(HitRatioOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        long started = Stopwatch.GetTimestamp();
        var keys = new KeySpace(options.Seed, options.MinValueSize, options.MaxValueSize);
        var builder = new TraceBuilder(options, keys);
        AnsiConsole.MarkupLine(Markup.Escape(Format.Invariant($"CMap.HitRatio: {options.Describe()}")));
        AnsiConsole.MarkupLine(Markup.Escape(Format.Invariant($"Seed {options.Seed}; {options.Traces.Count} traces × {options.SizePercents.Count} sizes × {options.Caches.Count} caches.")));

        var cells = new List<Cell>();
        int total = options.Traces.Count * options.SizePercents.Count, done = 0;
        foreach (TraceSpec spec in options.Traces)
        {
            long basis = builder.SizeBasis(spec);
            foreach (double percent in options.SizePercents)
            {
                long budget = (long)(basis * percent / 100);
                Trace trace = builder.Build(spec, budget);
                var context = new CacheContext(budget, trace.MeanEntryBytes, keys, options.Seed, options.ZeroCopyReads);
                done++;
                AnsiConsole.MarkupLine(Markup.Escape(Format.Invariant(
                    $"[{done}/{total}] {trace.Name} at {percent}% = {Format.Bytes(budget)}: {trace.Description}; {Format.Count(trace.DistinctKeys)} distinct keys, {Format.Bytes(trace.DistinctBytes)}, mean entry {trace.MeanEntryBytes:0} B")));
                var runs = new List<CacheRun>();
                foreach (string cache in options.Caches)
                {
                    int repeats = cache == CacheCatalog.CMap ? options.CMapRuns : 1;
                    for (int r = 0; r < repeats; r++)
                    {
                        CacheRun run = Simulation.Run(cache, trace, context);
                        runs.Add(run);
                        AnsiConsole.MarkupLine(Markup.Escape(run.Ok
                            ? Format.Invariant($"    {CacheCatalog.Title(cache),-14} object {100 * run.ObjectHitRatio,6:0.00}%  byte {100 * run.ByteHitRatio,6:0.00}%  {run.Seconds,6:0.0} s  {run.Notes}")
                            : Format.Invariant($"    {CacheCatalog.Title(cache),-14} failed: {run.Error}")));
                    }
                }

                cells.Add(new Cell(
                    trace.Name,
                    trace.Description,
                    spec.IsZipf,
                    percent,
                    basis,
                    budget,
                    trace.DistinctKeys,
                    trace.DistinctBytes,
                    trace.MeanEntryBytes,
                    trace.Requests.Length,
                    trace.Warmup,
                    runs));

                // The scan and loop traces are per cell; let them go before the next cell's caches fill up.
                GC.Collect();
            }
        }

        var report = new RunReport(options, cells, Stopwatch.GetElapsedTime(started));
        ConsoleReport.Write(report);
        MarkdownReport.Write(report);
        return 0;
    }
}
