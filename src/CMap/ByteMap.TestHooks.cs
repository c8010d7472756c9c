using System.Threading;
using CMap.Buffer;

namespace CMap;

// Test-only views of a map's internals. Not part of the public API and never on a hot path.
public sealed partial class ByteMap
{
    /// <summary>The arena that owns every native byte of this map.</summary>
    internal NativeArena ArenaForTests => _memory.Arena;

    /// <summary>Retired memory waiting for its grace period, with counters of what was freed and when.</summary>
    internal RetireList RetiredForTests => _memory.Retired;

    /// <summary>This map's epoch domain.</summary>
    internal EpochDomain EpochForTests => _memory.Epoch;

    /// <summary>Process-wide barriers this map's reclaimer has issued.</summary>
    internal long ProcessWideBarriersForTests => _memory.Epoch.Barriers;

    /// <summary>Managed holders of free chunks the pools have constructed (chunks in use have none).</summary>
    internal long ChunkObjectsCreatedForTests => Volatile.Read(ref _memory.Pool.Counters.ChunkObjectsCreated);

    /// <summary>Native bytes of the shards' chunk lists (counted in <see cref="CMapStatistics.IndexBytes"/>).</summary>
    internal long ChunkListBytesForTests => SumOverShards(static (ref Shard s) => s.ChunkListBytesForTests);

    /// <summary>The free large-value blocks this map keeps for reuse.</summary>
    internal BlockPool BlockPoolForTests => _memory.Pool.Blocks;

    /// <summary>The seed the map hashes with.</summary>
    internal ulong SeedForTests => _hasher.Seed;

    /// <summary>The map's hash of <paramref name="key"/> (with any test mask).</summary>
    internal ulong HashForTests(System.ReadOnlySpan<byte> key) => _hasher.Hash(key);

    /// <summary>The access count (0..3) of <paramref name="key"/>'s index word, or -1 when absent. Not a read: it raises nothing.</summary>
    internal int AccessCountForTests(System.ReadOnlySpan<byte> key)
    {
        ulong hash = _hasher.Hash(key);
        return ShardFor(hash).AccessCountForTests(key, hash);
    }

    /// <summary>Shard <paramref name="index"/>, for per-shard accounting checks.</summary>
    internal ref Shard ShardForTests(int index) => ref _shards[index];

    /// <summary>The most bytes any compaction batch of any shard copied while holding its shard lock.</summary>
    internal long MaxBytesCopiedUnderLockForTests
    {
        get
        {
            long max = 0;
            foreach (ref Shard s in System.MemoryExtensions.AsSpan(_shards))
            {
                max = System.Math.Max(max, s.MaxBytesCopiedUnderLock);
            }

            return max;
        }
    }

    /// <summary>Entries larger than a batch that compaction copied outside the shard lock.</summary>
    internal long LargeMovesOutsideLockForTests => SumOverShards(static (ref Shard s) => s.LargeMovesOutsideLock);

    /// <summary>Large moves dropped because a racing write replaced the entry while it was being copied.</summary>
    internal long LargeMovesLostToWritersForTests => SumOverShards(static (ref Shard s) => s.LargeMovesLostToWriters);

    /// <summary>Background passes that deferred themselves because readers held back retired memory.</summary>
    internal long CompactionDeferralsForTests => Volatile.Read(ref _compactionDeferrals);

    /// <summary>A sum over the shards, each read in place (a shard is a struct in the array and is never copied).</summary>
    private long SumOverShards(ShardCounter counter)
    {
        long sum = 0;
        foreach (ref Shard s in System.MemoryExtensions.AsSpan(_shards))
        {
            sum += counter(ref s);
        }

        return sum;
    }

    private delegate long ShardCounter(ref Shard shard);
}
