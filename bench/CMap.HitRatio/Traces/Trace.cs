namespace CMap.HitRatio.Traces;

/// <summary>
/// One request sequence (key numbers) with what the caches are sized from: its distinct keys and their bytes.
/// Requests before <see cref="Warmup"/> are fed to the caches but not counted.
/// </summary>
internal sealed record Trace(
    string Name,
    string Description,
    int[] Requests,
    int Warmup,
    long DistinctKeys,
    long DistinctBytes)
{
    /// <summary>Mean key + value bytes over the distinct keys: count-bounded caches get budget ÷ this entries.</summary>
    public double MeanEntryBytes => DistinctKeys == 0 ? 0 : DistinctBytes / (double)DistinctKeys;
}
