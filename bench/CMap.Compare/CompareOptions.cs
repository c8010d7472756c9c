using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace CMap.Compare;

/// <summary>Command-line settings of the tool, shared by the coordinator and its worker processes.</summary>
internal sealed class CompareOptions
{
    public int Entries { get; private set; } = 1_000_000;

    public int KeySize { get; private set; } = 16;

    public int ValueSize { get; private set; } = 100;

    public int Threads { get; private set; } = Environment.ProcessorCount;

    public double DurationSeconds { get; private set; } = 3;

    public IReadOnlyList<string> Stores { get; private set; } = StoreFactory.Names;

    public string OutDirectory { get; private set; } = Path.Combine("artifacts", "compare");

    public ulong Seed { get; private set; } = 42;

    public bool ShowHelp { get; private set; }

    /// <summary>Set in a worker process: the one store it measures.</summary>
    public string? WorkerStore { get; private set; }

    /// <summary>Set in a worker process: where it writes its result as JSON.</summary>
    public string? ResultPath { get; private set; }

    public static string HelpText { get; } = $"""
        CMap.Compare: ByteMap against ConcurrentDictionary, MemoryCache and FASTER KV, one process per store.

        Usage: dotnet run -c Release --project bench/CMap.Compare -- [options]

          --entries N        entries loaded into each store (default 1000000)
          --key-size N       key bytes, at least 8 (default 16)
          --value-size N     value bytes (default 100)
          --threads N        threads for the throughput phases; the latency phase runs N-1 readers
                             (at least 1) and one writer (default: processor count, {Environment.ProcessorCount} here)
          --duration S       seconds per timed phase, after a warm-up of a quarter of it, at most 1 s (default 3)
          --stores LIST      comma-separated subset of {string.Join(",", StoreFactory.Names)} (default all)
          --out DIR          where results.json, report.md and the charts go (default artifacts/compare)
          --seed N           seed of the keys, values and access patterns (default 42)
          --help             print this text
        """;

    /// <summary>Parses <paramref name="args"/>; throws <see cref="FormatException"/> with a readable message.</summary>
    public static CompareOptions Parse(IReadOnlyList<string> args)
    {
        var o = new CompareOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "--help" or "-h" or "-?")
            {
                o.ShowHelp = true;
                continue;
            }

            string name = arg;
            string? value = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = arg[..eq];
                value = arg[(eq + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }

            if (value is null)
            {
                throw new FormatException($"{name} needs a value.");
            }

            switch (name)
            {
                case "--entries":
                    o.Entries = ParseInt(name, value, 1, 200_000_000);
                    break;
                case "--key-size":
                    o.KeySize = ParseInt(name, value, KeySet.MinKeySize, ByteMap.MaxKeyLength);
                    break;
                case "--value-size":
                    o.ValueSize = ParseInt(name, value, 0, 1 << 20);
                    break;
                case "--threads":
                    o.Threads = ParseInt(name, value, 1, 1024);
                    break;
                case "--duration":
                    o.DurationSeconds = ParseDouble(name, value, 0.1, 3600);
                    break;
                case "--stores":
                    o.Stores = ParseStores(value);
                    break;
                case "--out":
                    o.OutDirectory = value;
                    break;
                case "--seed":
                    o.Seed = ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed)
                        ? seed
                        : throw new FormatException($"--seed must be a non-negative integer, not '{value}'.");
                    break;
                case "--worker":
                    o.WorkerStore = ParseStores(value) is [string store] ? store : throw new FormatException("--worker takes one store.");
                    break;
                case "--result":
                    o.ResultPath = value;
                    break;
                default:
                    throw new FormatException($"Unknown option '{arg}'. Try --help.");
            }
        }

        if (o.WorkerStore is not null && o.ResultPath is null)
        {
            throw new FormatException("--worker needs --result PATH.");
        }

        if ((long)o.Entries * o.KeySize > Array.MaxLength)
        {
            throw new FormatException("--entries × --key-size must stay under 2 GiB (the keys live in one array).");
        }

        return o;
    }

    /// <summary>The options that reproduce this run in a worker for <paramref name="store"/>.</summary>
    public IEnumerable<string> WorkerArguments(string store, string resultPath) =>
    [
        "--worker", store,
        "--result", resultPath,
        "--entries", Invariant(Entries),
        "--key-size", Invariant(KeySize),
        "--value-size", Invariant(ValueSize),
        "--threads", Invariant(Threads),
        "--duration", DurationSeconds.ToString("R", CultureInfo.InvariantCulture),
        "--seed", Seed.ToString(CultureInfo.InvariantCulture),
    ];

    /// <summary>Every option spelled out, for the report.</summary>
    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"--entries {Entries} --key-size {KeySize} --value-size {ValueSize} --threads {Threads} --duration {DurationSeconds} --stores {string.Join(",", Stores)} --seed {Seed}");

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static int ParseInt(string name, string value, int min, int max)
    {
        // Accept 1_000_000 and 1,000,000 as well as 1000000.
        string digits = value.Replace("_", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal);
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
        {
            throw new FormatException($"{name} must be an integer from {min} to {max}, not '{value}'.");
        }

        return n;
    }

    private static double ParseDouble(string name, string value, double min, double max)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || !(d >= min && d <= max))
        {
            throw new FormatException($"{name} must be a number from {min} to {max}, not '{value}'.");
        }

        return d;
    }

    private static string[] ParseStores(string value)
    {
        string[] names = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => s.ToLowerInvariant())
            .Distinct()
            .ToArray();
        string? unknown = names.FirstOrDefault(n => !StoreFactory.Names.Contains(n));
        if (names.Length == 0 || unknown is not null)
        {
            throw new FormatException($"Unknown store '{unknown}'; choose from {string.Join(",", StoreFactory.Names)}.");
        }

        return names;
    }
}
