using System.Threading;

namespace CMap;

// Test-only views of a shard lock. Never on a hot path.
internal partial struct ShardLock
{
    /// <summary>True while some thread holds the lock (a racy read).</summary>
    internal bool IsHeld => Volatile.Read(ref _state) != 0;

    /// <summary>Takes that found the lock held and had to wait (a racy read; exact while the lock is free).</summary>
    internal int ContendedEntries => Volatile.Read(ref _contended);
}
