using System.Collections.Generic;
using System.Linq;
using CMap.HitRatio.Caches;

namespace CMap.HitRatio;

/// <summary>One cache fed one trace: what it hit over the counted requests (after the warm-up).</summary>
internal sealed record CacheRun(
    string Cache,
    string Configuration,
    long Requests,
    long Hits,
    long RequestBytes,
    long HitBytes,
    double Seconds,
    string Notes,
    CMapDetail? CMap,
    string? Error)
{
    public bool Ok => Error is null;

    public double ObjectHitRatio => Requests == 0 ? 0 : Hits / (double)Requests;

    public double ByteHitRatio => RequestBytes == 0 ? 0 : HitBytes / (double)RequestBytes;
}

/// <summary>One cell of the matrix: a trace at one cache size, and every cache's run on it.</summary>
internal sealed record Cell(
    string Trace,
    string TraceDescription,
    bool IsZipf,
    double SizePercent,
    long SizeBasisBytes,
    long BudgetBytes,
    long DistinctKeys,
    long DistinctBytes,
    double MeanEntryBytes,
    int TotalRequests,
    int WarmupRequests,
    IReadOnlyList<CacheRun> Runs)
{
    /// <summary>The successful runs of <paramref name="cache"/> (CMap may run several times per cell).</summary>
    public IReadOnlyList<CacheRun> RunsOf(string cache) => Runs.Where(r => r.Cache == cache && r.Ok).ToArray();

    /// <summary>The run of <paramref name="cache"/> the cell reports: the median by object hit ratio, or null.</summary>
    public CacheRun? Run(string cache)
    {
        CacheRun[] runs = RunsOf(cache).OrderBy(r => r.ObjectHitRatio).ToArray();
        return runs.Length == 0 ? null : runs[(runs.Length - 1) / 2];
    }

    /// <summary>The highest peak of native bytes ÷ budget over CMap's runs, or null.</summary>
    public double? WorstPeakRatio => RunsOf(CacheCatalog.CMap).Where(r => r.CMap is not null).Select(r => (double?)r.CMap!.PeakNativeRatio).Max();
}
