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

    public required int Rounds { get; init; }

    public required int GcSamples { get; init; }

    public required ulong Seed { get; init; }

    /// <summary>The stores, in report order.</summary>
    public required IReadOnlyList<string> Stores { get; init; }

    public required MachineInfo Machine { get; init; }

    public required DateTimeOffset StartedUtc { get; init; }

    public required double WallSeconds { get; init; }

    /// <summary>The largest peak resident memory of any one process of the run (workers run one at a time).</summary>
    public long? PeakMemoryBytes { get; init; }

    /// <summary>Every worker's figures, in the order they ran: round 1's stores, then round 2's, and so on.</summary>
    public required IReadOnlyList<StoreResult> Runs { get; init; }

    /// <summary>Medians over rounds, and ratios to the baseline with their spread.</summary>
    public required IReadOnlyList<MetricSummary> Summary { get; init; }
}

/// <summary>One store's figures in one round, measured in its own process. Filled in phase by phase.</summary>
internal sealed class StoreResult
{
    public required string Store { get; init; }

    public required int Round { get; init; }

    /// <summary>Null when every phase ran; otherwise why the worker stopped (figures so far are kept).</summary>
    public string? Error { get; set; }

    public string? Configuration { get; set; }

    public double WorkerSeconds { get; set; }

    /// <summary>The worker process's peak resident memory (VmHWM).</summary>
    public long? PeakWorkingSetBytes { get; set; }

    public LoadResult? Load { get; set; }

    public ForcedGcResult? ForcedGc { get; set; }

    public MemoryResult? Memory { get; set; }

    public ThroughputResult? Get { get; set; }

    public ThroughputResult? Insert { get; set; }

    public ThroughputResult? Mixed { get; set; }

    public LatencyResult? Latency { get; set; }

    public GcResult? Gc { get; set; }

    /// <summary>Why this worker's figures may be the machine's rather than the store's; empty when none.</summary>
    public List<string> Overload { get; init; } = [];
}

internal sealed record LoadResult(double CreateMilliseconds, double Seconds, double OpsPerSecond);

/// <summary>Forced full blocking compacting collections with the data loaded, each timed by <c>Stopwatch</c>.</summary>
internal sealed record ForcedGcResult(IReadOnlyList<double> Milliseconds, double MedianMilliseconds, double MinMilliseconds, double MaxMilliseconds);

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

/// <summary>
/// CPU during a timed phase: this process's busy threads and CPU, what other processes (<see cref="OtherCores"/>) and
/// the hypervisor (<see cref="StealCores"/>) took, and <see cref="Load"/>, the sum of the first and the last two: more
/// than <see cref="Cores"/> means the phase's threads had to share the CPUs.
/// </summary>
internal sealed record CpuLoad(int OwnThreads, double OwnCores, double OtherCores, double StealCores, double Load, int Cores);

internal sealed record ThroughputResult(int Threads, double Seconds, long Operations, long Misses, double OpsPerSecond, GcDelta Gc, CpuLoad? Cpu);

/// <summary>
/// Get latency in nanoseconds (HdrHistogram, 3 significant digits), measured by reader threads while one writer
/// churns the data. The corrected percentiles come from HdrHistogram's <c>RecordValueWithExpectedInterval</c>: for
/// every get slower than <see cref="ExpectedIntervalNanoseconds"/> (the store's unloaded time per get), the gets a
/// steady caller would have had queued behind it are added, so a stall weighs as much as the requests it delays.
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
    GcDelta Gc,
    CpuLoad? Cpu);

/// <summary>GC activity over the whole worker process, including the collections the worker forced itself.</summary>
internal sealed record GcResult(int Gen0, int Gen1, int Gen2, int InducedCollections, double TotalPauseMilliseconds);

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

/// <summary>A figure over rounds: its median, least and greatest value, and every value in round order.</summary>
internal sealed record Spread(double Median, double Min, double Max, IReadOnlyList<double> Values)
{
    /// <summary>The larger distance from the median to the min or the max, as a fraction of the median.</summary>
    [JsonIgnore]
    public double RelativeSpread => Median == 0 ? 0 : Math.Max(Max - Median, Median - Min) / Math.Abs(Median);
}

/// <summary>One store's figure for one metric: the value over rounds, and its ratio to the baseline of the same round.</summary>
internal sealed record StoreFigure(string Store, Spread? Value, Spread? Ratio);

internal sealed record MetricSummary(string Id, string Label, IReadOnlyList<StoreFigure> Stores);

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(RunResult))]
[JsonSerializable(typeof(StoreResult))]
internal sealed partial class ResultJsonContext : JsonSerializerContext
{
}
