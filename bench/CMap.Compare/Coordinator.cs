using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using CMap.Bench;
using Spectre.Console;

namespace CMap.Compare;

/// <summary>
/// Runs every store in interleaved rounds (round 1: A B C D, round 2: A B C D, ...), each in a fresh worker process,
/// reduces the rounds to medians and spreads, then writes the console tables, results.json, report.md and the charts.
/// </summary>
internal static class Coordinator
{
    /// <summary>Console width when writing to a file or pipe: wide enough that no table wraps.</summary>
    private const int LogWidth = 200;

    public static int Run(CompareOptions options)
    {
        DateTimeOffset startedUtc = DateTimeOffset.UtcNow;
        long started = Stopwatch.GetTimestamp();
        string? loadAverageAtStart = Machine.LoadAverage();
        // Progress goes to stderr: live bars when stderr is a terminal (even with stdout sent to a file), plain lines otherwise.
        IAnsiConsole progressConsole = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Error),
            Interactive = Console.IsErrorRedirected ? InteractionSupport.No : InteractionSupport.Yes,
            Ansi = Console.IsErrorRedirected ? AnsiSupport.No : AnsiSupport.Detect,
        });
        if (Console.IsErrorRedirected)
        {
            progressConsole.Profile.Width = LogWidth;
        }

        progressConsole.MarkupLine(Markup.Escape($"CMap.Compare: {options.Describe()}"));

        (int Round, string Store)[] plan = Enumerable.Range(1, options.Rounds)
            .SelectMany(round => options.Stores.Select(store => (round, store)))
            .ToArray();
        var runs = new List<StoreResult>();
        progressConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask overall = context.AddTask(Format.Invariant($"{plan.Length} workers ({options.Rounds} round{(options.Rounds == 1 ? "" : "s")} × {options.Stores.Count} store{(options.Stores.Count == 1 ? "" : "s")})"), maxValue: plan.Length);
                for (int i = 0; i < plan.Length; i++)
                {
                    (int round, string store) = plan[i];
                    string name = Format.Invariant($"round {round}/{options.Rounds} {store}");
                    ProgressTask task = context.AddTask(name, maxValue: 1);
                    int done = i;
                    StoreResult result = RunWorker(options, store, round, (fraction, phase) =>
                    {
                        task.Description = Markup.Escape($"{name}: {phase}");
                        task.Value = fraction;
                        overall.Value = done + fraction;
                    });
                    task.Description = Markup.Escape(result.Error is null
                        ? Format.Invariant($"{name}: done in {Format.Seconds(result.WorkerSeconds)}{(result.Overload.Count > 0 ? ", overloaded" : "")}")
                        : $"{name}: failed: {result.Error}");
                    task.Value = 1;
                    task.StopTask();
                    overall.Value = i + 1;
                    runs.Add(result);
                }
            });

        var sectionsRun = new RunResult
        {
            CommandLine = string.Join(' ', Environment.GetCommandLineArgs().Select(Quote)),
            Options = options.Describe(),
            Entries = options.Entries,
            KeySize = options.KeySize,
            ValueSize = options.ValueSize,
            Threads = options.Threads,
            DurationSeconds = options.DurationSeconds,
            Rounds = options.Rounds,
            GcSamples = options.GcSamples,
            Seed = options.Seed,
            Stores = options.Stores,
            Machine = Machine.Describe(loadAverageAtStart),
            StartedUtc = startedUtc,
            WallSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds,
            PeakMemoryBytes = runs.Select(r => r.PeakWorkingSetBytes).Append(Machine.PeakWorkingSetBytes()).Max(),
            Runs = runs,
            Summary = [],
        };
        RunResult run = sectionsRun with { Summary = Metrics.Summarize(Metrics.Sections(sectionsRun), runs, options.Stores) };

        string outDirectory = Path.GetFullPath(options.OutDirectory);
        Directory.CreateDirectory(outDirectory);
        File.WriteAllText(Path.Combine(outDirectory, "results.json"), JsonSerializer.Serialize(run, ResultJsonContext.Default.RunResult));
        MarkdownReport.Write(run, outDirectory);

        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (Console.IsOutputRedirected)
        {
            // A log file is not a terminal: give the tables their natural width instead of 80 columns.
            console.Profile.Width = LogWidth;
        }

        ConsoleReport.Write(console, run);
        console.WriteLine(Format.Invariant($"Wall time {Format.Seconds(run.WallSeconds)}, peak memory of one process {(run.PeakMemoryBytes is long b ? Format.Bytes(b) : "unknown")}. Wrote results.json, report.md and charts to {outDirectory}"));
        return runs.TrueForAll(r => r.Error is null) ? 0 : 1;
    }

    private static StoreResult RunWorker(CompareOptions options, string store, int round, Action<double, string> progress)
    {
        string resultPath = Path.Combine(Path.GetTempPath(), Format.Invariant($"cmap-compare-{Environment.ProcessId}-{store}-{round}.json"));
        File.Delete(resultPath);
        ProcessStartInfo start = SelfLaunch(options.WorkerArguments(store, round, resultPath));
        start.RedirectStandardOutput = true;

        // Generous: load at 50 µs an entry, the forced collections at 2 s each, the timed phases with warm-ups, two minutes to spare.
        TimeSpan timeout = TimeSpan.FromSeconds(120 + (options.Entries * 50e-6) + (2.0 * options.GcSamples) + (10 * options.DurationSeconds));
        using Process worker = Process.Start(start) ?? throw new InvalidOperationException("Could not start a worker process.");
        worker.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            if (WorkerProgress.TryParse(e.Data, out double fraction, out string phase))
            {
                progress(fraction, phase);
            }
            else
            {
                Console.Error.WriteLine($"[{store}] {e.Data}");
            }
        };
        worker.BeginOutputReadLine();
        if (!worker.WaitForExit(timeout))
        {
            worker.Kill(entireProcessTree: true);
            worker.WaitForExit();
            return Failed(store, round, Format.Invariant($"worker timed out after {timeout.TotalSeconds:0} s"));
        }

        worker.WaitForExit(); // drains the redirected output
        if (!File.Exists(resultPath))
        {
            return Failed(store, round, Format.Invariant($"worker exited with code {worker.ExitCode} without writing a result"));
        }

        StoreResult? result = JsonSerializer.Deserialize(File.ReadAllText(resultPath), ResultJsonContext.Default.StoreResult);
        File.Delete(resultPath);
        return result ?? Failed(store, round, "worker wrote an empty result");
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

    private static StoreResult Failed(string store, int round, string reason) => new() { Store = store, Round = round, Error = reason };

    private static string Quote(string argument) =>
        argument.Length > 0 && !argument.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'') ? argument : $"\"{argument}\"";
}
