using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace CMap.Compare;

/// <summary>
/// Runs each store in a worker process of its own, one after the other, then writes the console table,
/// results.json, report.md and the charts.
/// </summary>
internal static class Coordinator
{
    public static int Run(CompareOptions options)
    {
        DateTimeOffset startedUtc = DateTimeOffset.UtcNow;
        long started = Stopwatch.GetTimestamp();
        string? loadAverageAtStart = Machine.LoadAverage();
        Console.Error.WriteLine($"CMap.Compare: {options.Describe()}");

        var results = new List<StoreResult>();
        for (int i = 0; i < options.Stores.Count; i++)
        {
            string store = options.Stores[i];
            Console.Error.WriteLine($"[{i + 1}/{options.Stores.Count}] {store}: starting a worker process");
            results.Add(RunWorker(options, store));
        }

        var run = new RunResult
        {
            CommandLine = string.Join(' ', Environment.GetCommandLineArgs().Select(Quote)),
            Options = options.Describe(),
            Entries = options.Entries,
            KeySize = options.KeySize,
            ValueSize = options.ValueSize,
            Threads = options.Threads,
            DurationSeconds = options.DurationSeconds,
            Seed = options.Seed,
            Machine = Machine.Describe(loadAverageAtStart),
            StartedUtc = startedUtc,
            WallSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds,
            Stores = results,
        };

        string outDirectory = Path.GetFullPath(options.OutDirectory);
        Directory.CreateDirectory(outDirectory);
        File.WriteAllText(Path.Combine(outDirectory, "results.json"), JsonSerializer.Serialize(run, ResultJsonContext.Default.RunResult));
        MarkdownReport.Write(run, outDirectory);

        Console.Out.Write(ResultTable.RenderText(run));
        Console.Out.WriteLine();
        Console.Out.WriteLine($"Wall time {Format.Seconds(run.WallSeconds)}. Wrote results.json, report.md and charts to {outDirectory}");
        return results.TrueForAll(r => r.Error is null) ? 0 : 1;
    }

    private static StoreResult RunWorker(CompareOptions options, string store)
    {
        string resultPath = Path.Combine(Path.GetTempPath(), $"cmap-compare-{Environment.ProcessId}-{store}.json");
        File.Delete(resultPath);
        ProcessStartInfo start = SelfLaunch(options.WorkerArguments(store, resultPath));

        // Generous: load at 50 µs an entry, five timed phases with warm-ups, and two minutes to spare.
        TimeSpan timeout = TimeSpan.FromSeconds(120 + (options.Entries * 50e-6) + (10 * options.DurationSeconds));
        using Process worker = Process.Start(start) ?? throw new InvalidOperationException("Could not start a worker process.");
        if (!worker.WaitForExit(timeout))
        {
            worker.Kill(entireProcessTree: true);
            worker.WaitForExit();
            return Failed(store, $"worker timed out after {timeout.TotalSeconds:0} s");
        }

        if (!File.Exists(resultPath))
        {
            return Failed(store, $"worker exited with code {worker.ExitCode} without writing a result");
        }

        StoreResult? result = JsonSerializer.Deserialize(File.ReadAllText(resultPath), ResultJsonContext.Default.StoreResult);
        File.Delete(resultPath);
        return result ?? Failed(store, "worker wrote an empty result");
    }

    /// <summary>
    /// Starts this program again with <paramref name="arguments"/>: through its apphost (dotnet run, published
    /// builds), or through the dotnet host with the entry assembly when started as "dotnet CMap.Compare.dll".
    /// </summary>
    private static ProcessStartInfo SelfLaunch(IEnumerable<string> arguments)
    {
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this process is unknown.");
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            string entry = Environment.GetCommandLineArgs()[0];
            start.ArgumentList.Add(entry.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
                ? entry
                : Path.Combine(AppContext.BaseDirectory, $"{AppDomain.CurrentDomain.FriendlyName}.dll"));
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private static StoreResult Failed(string store, string reason)
    {
        Console.Error.WriteLine($"[{store}] failed: {reason}");
        return new StoreResult { Store = store, Error = reason };
    }

    private static string Quote(string argument) =>
        argument.Length > 0 && !argument.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'') ? argument : $"\"{argument}\"";
}
