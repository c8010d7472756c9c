using System;
using System.Collections.Generic;
using System.Text.Json.Serialization;

namespace CMap.Compare;

/// <summary>Everything one run of the tool measured: results.json.</summary>
internal sealed record RunResult
{
    public required string CommandLine { get; init; }

    public required string Options { get; init; }

    public required int Entries { get; init; }

    public required int KeySize { get; init; }

    public required int ValueSize { get; init; }

    public required int Threads { get; init; }

    public required double DurationSeconds { get; init; }

    public required ulong Seed { get; init; }

    public required MachineInfo Machine { get; init; }

    public required DateTimeOffset StartedUtc { get; init; }

    public required double WallSeconds { get; init; }

    public required IReadOnlyList<StoreResult> Stores { get; init; }
}

/// <summary>One store's figures, measured in its own process. Filled in phase by phase.</summary>
internal sealed class StoreResult
{
    public required string Store { get; init; }

    /// <summary>Null when every phase ran; otherwise why the worker stopped (figures so far are kept).</summary>
    public string? Error { get; set; }

    public string? Configuration { get; set; }

    public double WorkerSeconds { get; set; }

    public LoadResult? Load { get; set; }

    public MemoryResult? Memory { get; set; }

    public ThroughputResult? Get { get; set; }

    public ThroughputResult? Insert { get; set; }

    public ThroughputResult? Mixed { get; set; }

    public LatencyResult? Latency { get; set; }

    public GcResult? Gc { get; set; }
}

internal sealed record LoadResult(double CreateMilliseconds, double Seconds, double OpsPerSecond);

/// <summary>
/// Memory before and after the load. The per-entry figures are the growth divided by the entry count, less the
/// key and value bytes: what each store spends beyond the payload.
/// </summary>
internal sealed record MemoryResult(
    long HeapBeforeBytes,
    long HeapAfterBytes,
    long WorkingSetBeforeBytes,
    long WorkingSetAfterBytes,
    long? NativeBytes,
    double WorkingSetOverheadPerEntry,
    double HeapOverheadPerEntry,
    double? NativeOverheadPerEntry,
    double HeapPlusNativeOverheadPerEntry,
    string? StoreDetail);

/// <summary>Garbage collections and GC pause time inside a span of the run.</summary>
internal sealed record GcDelta(int Gen0, int Gen1, int Gen2, double PauseMilliseconds);

internal sealed record ThroughputResult(int Threads, double Seconds, long Operations, long Misses, double OpsPerSecond, GcDelta Gc);

/// <summary>
/// Get latency in nanoseconds, measured by reader threads while one writer churns the data. The corrected
/// percentiles add, for every get slower than <see cref="ExpectedIntervalNanoseconds"/> (the store's unloaded
/// time per get), the gets a steady caller would have had queued behind it (HdrHistogram's correction for
/// coordinated omission), so that stalls such as GC pauses weigh as much as the requests they would delay.
/// </summary>
internal sealed record LatencyResult(
    int Readers,
    double Seconds,
    long Reads,
    long Misses,
    double ReadOpsPerSecond,
    long WriterMutations,
    double WriterMutationsPerSecond,
    double MeanNanoseconds,
    long P50Nanoseconds,
    long P90Nanoseconds,
    long P99Nanoseconds,
    long P999Nanoseconds,
    long MaxNanoseconds,
    long ExpectedIntervalNanoseconds,
    long CorrectedP50Nanoseconds,
    long CorrectedP90Nanoseconds,
    long CorrectedP99Nanoseconds,
    long CorrectedP999Nanoseconds,
    GcDelta Gc);

/// <summary>GC activity over the whole worker process, including the collections the worker forced itself.</summary>
internal sealed record GcResult(
    int Gen0,
    int Gen1,
    int Gen2,
    int InducedCollections,
    double TotalPauseMilliseconds,
    double? ForcedFullGcMilliseconds);

internal sealed record MachineInfo(
    int ProcessorCount,
    string? CpuModel,
    string Os,
    string Architecture,
    string Framework,
    string GcMode,
    long AvailableMemoryBytes,
    string? LoadAverageAtStart,
    string? LoadAverageAtEnd);

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunResult))]
[JsonSerializable(typeof(StoreResult))]
internal sealed partial class ResultJsonContext : JsonSerializerContext
{
}
