using System;

namespace CMap.Compare;

/// <summary>GC counters at one moment; subtract two to get what happened in between.</summary>
internal readonly record struct GcSnapshot(int Gen0, int Gen1, int Gen2, TimeSpan Pause)
{
    public static GcSnapshot Take() =>
        new(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration());

    public GcDelta Since(GcSnapshot start) =>
        new(Gen0 - start.Gen0, Gen1 - start.Gen1, Gen2 - start.Gen2, (Pause - start.Pause).TotalMilliseconds);
}
