using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using CMap.Buffer;
using CMap.Compaction;
using CMap.Hashing;

namespace CMap;

/// <summary>
/// A concurrent map from byte keys to byte values, stored off the GC heap. Keys hash (XXH3-64) to shards; each
/// shard appends entries to a log of native chunks and indexes them in a native open-addressing table.
/// </summary>
/// <remarks>
/// All public members are thread-safe and may be used concurrently from multiple threads; reads take no lock and
/// never wait for a writer, and a write that has returned is visible to every read that starts after it.
/// <para>
/// Keys are 0 to <see cref="MaxKeyLength"/> bytes; the empty key is a valid key. Values are 0 to
/// <see cref="CMapConfig.MaxValueLength"/> bytes. Dispose the map to free its native memory; an undisposed map
/// frees it from its finalizer, which never waits.
/// </para>
/// </remarks>
public sealed unsafe partial class ByteMap : IDisposable
{
    /// <summary>The longest key accepted: 65,535 bytes.</summary>
    public const int MaxKeyLength = EntryLayout.MaxKeyLength;

    private readonly Shard[] _shards;
    private readonly int _shardMask;
    private readonly KeyHasher _hasher;
    private readonly int _maxValueLength;
    private readonly MapMemory _memory;
    private readonly CompactionScheduler? _scheduler;
    private readonly ExpiryClock _clock;
    private readonly ExpiryTimer _expiryTimer;
    private readonly MemoryBudget? _budget;
    private readonly long _maxEntryBytes; // a quarter of the budget, or long.MaxValue
    private int _inlineCursor; // where a writer's inline eviction looks first among the other shards (Interlocked)

    /// <summary>Creates a map with the default <see cref="CMapConfig"/>.</summary>
    /// <exception cref="OutOfMemoryException">The initial index tables could not be allocated.</exception>
    public ByteMap()
        : this(new CMapConfig())
    {
    }

    /// <summary>Creates a map.</summary>
    /// <param name="config">Settings; validated here, from one snapshot.</param>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is null.</exception>
    /// <exception cref="ArgumentException">A setting is out of range; the message names the field (and, for
    /// <see cref="CMapConfig.InitialCapacity"/>, the bytes it would need).</exception>
    /// <exception cref="OutOfMemoryException">The initial index tables could not be allocated; the message names
    /// <see cref="CMapConfig.InitialCapacity"/> and the bytes.</exception>
    public ByteMap(CMapConfig config)
    {
        // Until the map is fully built there is nothing for the finalizer to free, and it must not see null fields.
        GC.SuppressFinalize(this);
        ArgumentNullException.ThrowIfNull(config);

        int[] chunkSizes = config.Validate();
        int shardCount = config.ResolveShardCount();
        long indexBytes = CMapConfig.IndexBytesFor(config.InitialCapacity, shardCount);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available > 0 && indexBytes > available)
        {
            ThrowHelper.ThrowInitialCapacity(config.InitialCapacity, indexBytes, $"must fit in the {available:N0} bytes this process can use");
        }

        _shardMask = shardCount - 1;
        ulong seed = config.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));
        _hasher = new KeyHasher(seed, TestHooks.Enabled ? config.HashMask : ulong.MaxValue);
        _maxValueLength = config.MaxValueLength;
        // With a budget the pools may keep only a small part of it: a thirty-second, shared by the size classes.
        long retained = config.MaxBytes is long cap ? Math.Min(config.MaxRetainedChunkBytes, cap / 32 / chunkSizes.Length) : config.MaxRetainedChunkBytes;
        _memory = new MapMemory(chunkSizes, retained, TestHooks.Enabled && config.PoisonFreedChunks);
        _clock = new ExpiryClock(config.TimeProvider ?? TimeProvider.System);
        _expiryTimer = new ExpiryTimer(_clock.Time, config.ExpirationScanInterval);
        _budget = config.MaxBytes is long limit ? new MemoryBudget(limit, _memory) : null;
        _maxEntryBytes = _budget?.MaxEntryBytes ?? long.MaxValue;
        if (config.CompactionSchedulerFactory is not null || config.BackgroundCompaction)
        {
            // CA2000 (Reliability, all): the map owns the scheduler from here (DisposeCore stops it). Should the
            // constructor fail before Start, the scheduler has no thread, and its event is left to finalization, as
            // Stop leaves it by design.
#pragma warning disable CA2000
            _scheduler = (TestHooks.Enabled ? config.CompactionSchedulerFactory?.Invoke() : null) ?? new BackgroundCompactionScheduler();
#pragma warning restore CA2000
        }

        var settings = new ShardSettings
        {
            Memory = _memory,
            Hasher = _hasher,
            ChunkSizes = chunkSizes,
            ChunkPolicy = (TestHooks.Enabled ? config.ChunkPolicy : null) ?? ChunkPolicy.Default,
            CompactionDeadRatio = config.CompactionDeadRatio,
            CompactionMinDeadBytes = config.CompactionMinDeadBytes,
            CompactionRequests = _scheduler,
            Clock = _clock,
            SweepIntervalTicks = _clock.TicksFor(config.ExpirationScanInterval),
            Budget = _budget,
            MaxSizeClass = MaxSizeClassFor(chunkSizes, shardCount, config.MaxBytes),
            LargeEntryShift = config.MaxBytes is null ? 1 : 3,
        };
        _shards = new Shard[shardCount];
        long perShard = (config.InitialCapacity + shardCount - 1) / shardCount;
        try
        {
            for (int i = 0; i < shardCount; i++)
            {
                _shards[i] = new Shard(settings, perShard);
            }
        }
        catch (OutOfMemoryException ex)
        {
            // Nothing was handed out yet: free what the finished shards hold and report what was asked for.
            foreach (ref Shard s in _shards.AsSpan())
            {
                if (s.IsBuilt)
                {
                    s.Dispose();
                }
            }

            _memory.Retired.DrainRetiredSoFar();
            _memory.Pool.Dispose();
            ThrowHelper.ThrowInitialCapacityOutOfMemory(config.InitialCapacity, indexBytes, ex);
        }

        Name = config.Name;
        try
        {
            if (_scheduler is not null)
            {
                // The compactor thread must not keep the map alive: an abandoned map is freed by its finalizer.
                var weak = new WeakReference<ByteMap>(this);
                _scheduler.Start(() => weak.TryGetTarget(out ByteMap? map) && map.RunCompactionPass());
            }

            // Nor must the expiry timer (started by the first write of an entry that expires).
            var weakForTimer = new WeakReference<ByteMap>(this);
            _expiryTimer.Bind(() =>
            {
                if (weakForTimer.TryGetTarget(out ByteMap? map))
                {
                    map.OnExpiryTick();
                }
            });

            // The user's IMeterFactory may throw (a disposed one does).
            CMapMetrics.Register(this, config.MeterFactory);
        }
        catch
        {
            // The finalizer is still suppressed: free the shards' memory and stop the compactor thread here, or both
            // would outlive the failed constructor for good.
            DisposeCore(wait: true);
            throw;
        }

        GC.ReRegisterForFinalize(this);
    }

    /// <summary>The map's name (<see cref="CMapConfig.Name"/>): the <c>dotnet.cache.name</c> tag of its instruments.</summary>
    public string Name { get; }

    /// <summary>Number of shards.</summary>
    public int ShardCount => _shards.Length;

    /// <summary>
    /// Entries in the map: exact when no writer is active, otherwise a value it passed through. It includes expired
    /// entries not yet removed: a read never returns them, and the map removes them within about
    /// <see cref="CMapConfig.ExpirationScanInterval"/> of their expiry, even when idle.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public long Count
    {
        get
        {
            ThrowIfDisposed();
            long n = 0;
            foreach (ref Shard s in _shards.AsSpan())
            {
                n += s.Count;
            }

            return n;
        }
    }

    /// <summary>
    /// Bytes of dead entries (overwritten or deleted, counted at their own size, not the new value's) that
    /// compaction can give back. The unused ends of sealed chunks are not counted: moving entries never frees them.
    /// The same figure as <see cref="CMapStatistics.DeadBytes"/>, read without building the whole statistics.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public long ReclaimableBytes
    {
        get
        {
            ThrowIfDisposed();
            long n = 0;
            foreach (ref Shard s in _shards.AsSpan())
            {
                n += s.DeadBytes;
            }

            return n;
        }
    }

    /// <summary>Adds <paramref name="key"/> with <paramref name="value"/>, or replaces the value it has.</summary>
    /// <returns>True when the key was added; false when an existing value was replaced.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or (with <see cref="CMapConfig.MaxBytes"/>)
    /// the entry would take more than a quarter of the budget; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        CheckLengths(key, value, default);
        var op = new Upsert(value);
        return Write(key, ref op, default, 0) == WriteOutcome.Added;
    }

    /// <summary>Adds <paramref name="key"/> only if it is absent. Atomic: of racing callers exactly one adds.</summary>
    /// <returns>True when this call added the key; false when it was already present (nothing is written).</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or (with <see cref="CMapConfig.MaxBytes"/>)
    /// the entry would take more than a quarter of the budget; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryAdd(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        CheckLengths(key, value, default);
        var op = new AddOnly(value);
        return Write(key, ref op, default, 0) == WriteOutcome.Added;
    }

    /// <summary>Returns the value stored for <paramref name="key"/>, adding <paramref name="value"/> first if the key is absent. Atomic: of racing callers exactly one adds.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value to add when the key is absent.</param>
    /// <param name="inserted">True when this call added the key.</param>
    /// <returns>The value now stored: a copy of the existing one, or of <paramref name="value"/>.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or (with <see cref="CMapConfig.MaxBytes"/>)
    /// the entry would take more than a quarter of the budget; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public byte[] GetOrInsert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, out bool inserted)
    {
        CheckLengths(key, value, default);
        return GetOrInsertCore(key, value, default, 0, out inserted);
    }

    /// <summary>GetOrInsert once the arguments are checked: a lock-free hit, or the write path.</summary>
    private byte[] GetOrInsertCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, in EntryExpiry expiry, long now, out bool inserted)
    {
        // Hit: the lock-free read core, as Get. Only a miss takes the shard lock, where the check is repeated.
        ulong hash = _hasher.Hash(key);
        ref Shard shard = ref ShardFor(hash);
        var copy = new CopyToArray();
        if (shard.Read(key, hash, ref copy))
        {
            GC.KeepAlive(this); // [E8]
            inserted = false;
            return copy.Result!;
        }

        var op = new GetOrAddInPlace(value);
        inserted = WriteToShard(ref shard, key, hash, ref op, expiry, now) == WriteOutcome.Added;
        byte[] result = op.Previous.HasValue ? CopyAndRelease(ref op.Previous) : value.ToArray();
        GC.KeepAlive(this); // [E8]
        return result;
    }

    /// <summary>Removes <paramref name="key"/>.</summary>
    /// <returns>True when the key was present.</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Not from the removal itself, which allocates nothing (a shrink of the index
    /// that finds no memory is skipped, and the map stays correct).</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        var op = new Remove();
        return Write(key, ref op, default, 0) == WriteOutcome.Removed;
    }

    /// <summary>The one entry to the write path from the public API.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private WriteOutcome Write<TOperation>(ReadOnlySpan<byte> key, ref TOperation operation, in EntryExpiry expiry, long now)
        where TOperation : struct, IWriteOperation, allows ref struct
    {
        ulong hash = _hasher.Hash(key);
        WriteOutcome outcome = WriteToShard(ref ShardFor(hash), key, hash, ref operation, expiry, now);
        GC.KeepAlive(this); // [E8] no finalizer while a write holds a shard lock and points into native memory
        return outcome;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Shard ShardFor(ulong hash) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_shards), (int)(hash >> 32) & _shardMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckKey(ReadOnlySpan<byte> key)
    {
        if (key.Length > MaxKeyLength)
        {
            ThrowHelper.ThrowKeyTooLong(key.Length);
        }
    }

    /// <summary>The checks of a write that stores a value: lengths, and with a budget, the entry's size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckLengths(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, in EntryExpiry expiry)
    {
        CheckKey(key);
        if (value.Length > _maxValueLength)
        {
            ThrowHelper.ThrowValueTooLong(value.Length, _maxValueLength);
        }

        if (_maxEntryBytes != long.MaxValue && EntryLayout.SizeOf(key.Length, value.Length, expiry) > _maxEntryBytes)
        {
            ThrowHelper.ThrowEntryOverBudget(EntryLayout.SizeOf(key.Length, value.Length, expiry), _maxEntryBytes, _budget!.Limit);
        }
    }

    /// <summary>The largest size class a shard may use: with a budget, <see cref="CMapConfig.BudgetChunksPerShard"/> chunks of it per shard fit in the budget.</summary>
    private static int MaxSizeClassFor(int[] chunkSizes, int shards, long? budget)
    {
        int cls = chunkSizes.Length - 1;
        while (budget is long b && cls > 0 && (long)CMapConfig.BudgetChunksPerShard * shards * chunkSizes[cls] > b)
        {
            cls--;
        }

        return cls;
    }

    private void ThrowIfDisposed()
    {
        if (_memory.Epoch.IsClosed)
        {
            ThrowHelper.ThrowObjectDisposed();
        }
    }
}
