using System;
using System.Collections.Generic;

namespace CMap.Compaction;

/// <summary>
/// Chooses the chunk size class a shard appends to. The default keeps the tail chunk's unused space under about
/// an eighth of the shard's live bytes: it moves a shard up a class once its live bytes reach 8 × the next class's
/// chunk size, and back down only once they fall below 2 × the current class's, so a shard hovering at a boundary
/// does not flip between sizes (4× hysteresis). Internal: it runs under the shard lock, where user code could re-enter
/// the map and corrupt the shard; tests derive from it to force unusual size sequences.
/// </summary>
internal class ChunkPolicy
{
    private const int UpThreshold = 8;
    private const int DownThreshold = 2;

    /// <summary>The default policy.</summary>
    internal static ChunkPolicy Default { get; } = new();

    /// <summary>
    /// Called under the shard's lock each time the shard needs a new chunk. Must be fast and must not call back
    /// into the map.
    /// </summary>
    /// <param name="liveBytes">The shard's live log bytes.</param>
    /// <param name="currentClass">The class the shard used last.</param>
    /// <param name="chunkSizes">The configured classes (<see cref="CMapConfig.ChunkSizes"/>).</param>
    /// <returns>An index into <paramref name="chunkSizes"/>.</returns>
    public virtual int SelectSizeClass(long liveBytes, int currentClass, IReadOnlyList<int> chunkSizes)
    {
        int cls = Math.Clamp(currentClass, 0, chunkSizes.Count - 1);
        while (cls + 1 < chunkSizes.Count && liveBytes >= UpThreshold * (long)chunkSizes[cls + 1])
        {
            cls++;
        }

        while (cls > 0 && liveBytes < DownThreshold * (long)chunkSizes[cls])
        {
            cls--;
        }

        return cls;
    }
}
