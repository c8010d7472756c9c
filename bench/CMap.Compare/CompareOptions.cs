using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using CMap.Bench.Stores;

namespace CMap.Compare;

/// <summary>The settings of one run, shared by the coordinator and its worker processes (see <see cref="CompareCommand"/>).</summary>
internal sealed record CompareOptions
{
    public int Entries { get; init; } = 1_000_000;

    public int KeySize { get; init; } = 16;

    public int ValueSize { get; init; } = 100;

    public int Threads { get; init; } = Environment.ProcessorCount;

    public double DurationSeconds { get; init; } = 3;

    /// <summary>Interleaved rounds: every store once per round, each in a fresh process.</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Forced full collections timed in each worker; the figure is their median.</summary>
    public int GcSamples { get; init; } = 5;

    public IReadOnlyList<string> Stores { get; init; } = StoreCatalog.Names;

    public string OutDirectory { get; init; } = Path.Combine("artifacts", "compare");

    public ulong Seed { get; init; } = 42;

    /// <summary>Set in a worker process: the one store it measures.</summary>
    public string? WorkerStore { get; init; }

    /// <summary>Set in a worker process: the round it belongs to (1-based).</summary>
    public int Round { get; init; }

    /// <summary>Set in a worker process: where it writes its result as JSON.</summary>
    public string? ResultPath { get; init; }

    /// <summary>The options that reproduce this run in a worker for <paramref name="store"/> in <paramref name="round"/>.</summary>
    public IEnumerable<string> WorkerArguments(string store, int round, string resultPath) =>
    [
        CompareCommand.WorkerOption, store,
        CompareCommand.RoundOption, Invariant(round),
        CompareCommand.ResultOption, resultPath,
        "--entries", Invariant(Entries),
        "--key-size", Invariant(KeySize),
        "--value-size", Invariant(ValueSize),
        "--threads", Invariant(Threads),
        "--duration", DurationSeconds.ToString("R", CultureInfo.InvariantCulture),
        "--gc-samples", Invariant(GcSamples),
        "--seed", Seed.ToString(CultureInfo.InvariantCulture),
    ];

    /// <summary>Every option that shapes the figures, spelled out, for the report.</summary>
    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"--entries {Entries} --key-size {KeySize} --value-size {ValueSize} --threads {Threads} --duration {DurationSeconds} --rounds {Rounds} --gc-samples {GcSamples} --stores {string.Join(",", Stores)} --seed {Seed}");

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
