using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading;
using CMap.Buffer;
using CMap.Compaction;
using CMap.Hashing;

namespace CMap;

/// <summary>
/// A concurrent map from byte keys to byte values, stored off the GC heap. Keys hash (XXH3-64) to shards; each
/// shard appends entries to a log of native chunks and indexes them in a native open-addressing table.
/// <para>
/// Reads (<see cref="Get"/>, <see cref="TryGet(ReadOnlySpan{byte}, Span{byte}, out int)"/>, <see cref="ContainsKey"/>,
/// <see cref="TryRead{TState}"/>) take no lock and never wait for a writer; a write that has returned is visible
/// to every read that starts after it. Writers to one shard take turns on that shard's lock.
/// </para>
/// <para>
/// Keys are 0 to <see cref="MaxKeyLength"/> bytes; the empty key is a valid key. Values are 0 to
/// <see cref="CMapConfig.MaxValueLength"/> bytes. Dispose the map to free its native memory; an undisposed map
/// frees it from its finalizer.
/// </para>
/// </summary>
public sealed unsafe partial class ByteMap : IDisposable
{
    /// <summary>The longest key accepted: 65,535 bytes.</summary>
    public const int MaxKeyLength = EntryLayout.MaxKeyLength;

    private readonly Shard[] _shards;
    private readonly int _shardMask;
    private readonly ulong _seed;
    private readonly ulong _hashMask;
    private readonly int _maxValueLength;
    private readonly NativeArena _arena;
    private readonly ChunkPool _pool;
    private readonly RetireList _retired;
    private readonly CompactionScheduler? _scheduler;

    // Serializes compaction passes (the background one and Compact()); never taken by readers or writers.
    private readonly Lock _compactionGate = new();

    // Compaction failures. Written by the compacting thread with Interlocked / Volatile; read by statistics.
    private long _compactionErrors;
    private long _compactionPasses;
    private Exception? _lastCompactionError;

    // [I5] 0 while usable, 1 once Dispose began. Set once with Interlocked.Exchange; readers check it inside their
    // epoch region, so Dispose's grace wait covers every reader that saw 0.
    private int _disposed;

    /// <summary>Creates a map with the default <see cref="CMapConfig"/>.</summary>
    public ByteMap()
        : this(new CMapConfig())
    {
    }

    /// <summary>Creates a map.</summary>
    /// <param name="config">Settings; validated here.</param>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is null.</exception>
    /// <exception cref="ArgumentException">A setting is out of range; the message names the field.</exception>
    /// <exception cref="OutOfMemoryException">The initial index tables could not be allocated.</exception>
    public ByteMap(CMapConfig config)
    {
        // Until the map is fully built there is nothing for the finalizer to free, and it must not see null fields.
        GC.SuppressFinalize(this);
        if (config is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(config));
        }

        config.Validate();
        int shardCount = config.ResolveShardCount();
        _shardMask = shardCount - 1;
        _seed = config.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));
        _hashMask = config.HashMask;
        _maxValueLength = config.MaxValueLength;
        ChunkPolicy = config.ChunkPolicy;
        ChunkSizes = [.. config.ChunkSizes];
        CompactionDeadRatio = config.CompactionDeadRatio;
        CompactionMinDeadBytes = config.CompactionMinDeadBytes;
        _arena = new NativeArena();
        int[] sizes = [.. config.ChunkSizes];
        int[] retained = Array.ConvertAll(sizes, s => (int)Math.Min(int.MaxValue, config.MaxRetainedChunkBytes / s));
        _pool = new ChunkPool(_arena, sizes, retained, config.PoisonFreedChunks);
        _retired = new RetireList(_arena, _pool);
        _shards = new Shard[shardCount];
        long perShard = (config.InitialCapacity + shardCount - 1) / shardCount;
        try
        {
            for (int i = 0; i < shardCount; i++)
            {
                _shards[i] = new Shard(this, _arena, _pool, _retired, perShard);
            }
        }
        catch (OutOfMemoryException)
        {
            // Nothing was handed out yet: free what the finished shards hold and rethrow.
            foreach (Shard? s in _shards)
            {
                s?.Dispose();
            }

            _retired.DrainAll();
            _pool.Dispose();
            throw;
        }

        if (config.CompactionSchedulerFactory is not null || config.BackgroundCompaction)
        {
            _scheduler = config.CompactionSchedulerFactory?.Invoke() ?? new BackgroundCompactionScheduler();
            // The compactor thread must not keep the map alive: an abandoned map is freed by its finalizer.
            var weak = new WeakReference<ByteMap>(this);
            _scheduler.Start(() =>
            {
                if (weak.TryGetTarget(out ByteMap? map))
                {
                    map.RunCompactionPass();
                }
            });
        }

        GC.ReRegisterForFinalize(this);
    }

    /// <summary>Frees the native memory of a map that was never disposed.</summary>
    ~ByteMap() => DisposeCore();

    /// <summary>Number of shards.</summary>
    public int ShardCount => _shards.Length;

    /// <summary>Entries in the map: exact when no writer is active, otherwise a value it passed through.</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public long Count
    {
        get
        {
            ThrowIfDisposed();
            long n = 0;
            foreach (Shard s in _shards)
            {
                n += s.Count;
            }

            return n;
        }
    }

    /// <summary>
    /// Log bytes that compaction can give back: entries that were overwritten or deleted (counted at their own size,
    /// not the new value's) and the unused ends of sealed chunks. The same figure as
    /// <see cref="CMapStatistics.DeadBytes"/>, read without building the whole statistics.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public long ReclaimableBytes
    {
        get
        {
            ThrowIfDisposed();
            long n = 0;
            foreach (Shard s in _shards)
            {
                n += s.DeadBytes;
            }

            return n;
        }
    }

    /// <summary>Adds <paramref name="key"/> with <paramref name="value"/>, or replaces the value it has.</summary>
    /// <returns>True when the key was added; false when an existing value was replaced.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        CheckLengths(key, value);
        ulong hash = HashOf(key);
        return ShardFor(hash).Insert(key, value, hash);
    }

    /// <summary>Returns the value stored for <paramref name="key"/>, adding <paramref name="value"/> first if the key is absent. Atomic: of racing callers exactly one adds.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value to add when the key is absent.</param>
    /// <param name="inserted">True when this call added the key.</param>
    /// <returns>The value now stored: a copy of the existing one, or of <paramref name="value"/>.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public byte[] GetOrInsert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, out bool inserted)
    {
        CheckLengths(key, value);

        // Hit: a lock-free read, as Get does. Only a miss takes the shard lock, where the check is repeated.
        ulong hash = HashOf(key);
        var copy = new CopyToArray();
        if (ReadCore(key, hash, ref copy))
        {
            inserted = false;
            return copy.Result!;
        }

        inserted = ShardFor(hash).GetOrInsert(key, value, hash, out byte[]? existing);
        return existing ?? value.ToArray();
    }

    /// <summary>Adds <paramref name="key"/> only if it is absent. Atomic: of racing callers exactly one adds.</summary>
    /// <returns>True when this call added the key; false when it was already present (nothing is written).</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryAdd(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        CheckLengths(key, value);
        ulong hash = HashOf(key);
        return ShardFor(hash).TryAdd(key, value, hash);
    }

    /// <summary>Removes <paramref name="key"/>.</summary>
    /// <returns>True when the key was present.</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>.</exception>
    /// <exception cref="OutOfMemoryException">Never for the removal itself; only reported when it cannot be done.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        if (key.Length > MaxKeyLength)
        {
            ThrowHelper.ThrowKeyTooLong(key.Length);
        }

        ulong hash = HashOf(key);
        return ShardFor(hash).Delete(key, hash);
    }

    /// <summary>Returns a copy of the value stored for <paramref name="key"/>, or null.</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public byte[]? Get(ReadOnlySpan<byte> key)
    {
        var copy = new CopyToArray();
        return ReadCore(key, ref copy) ? copy.Result : null;
    }

    /// <summary>Copies the value stored for <paramref name="key"/> into <paramref name="destination"/>. Allocates nothing.</summary>
    /// <param name="key">The key.</param>
    /// <param name="destination">Where the value goes.</param>
    /// <param name="written">
    /// When true is returned, the value's length. When false: 0 if the key is absent, or the value's length (always
    /// greater than <paramref name="destination"/>'s) if the key is present but the value does not fit.
    /// </param>
    /// <returns>True when the value was copied.</returns>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written)
    {
        ulong hash = HashOf(key);
        Shard shard = ShardFor(hash);
        Epoch.EpochThread t = Epoch.Enter();
        if (Volatile.Read(ref _disposed) != 0)
        {
            ExitAndThrowDisposed(t);
        }

        byte* e = shard.FindEntry(key, hash);
        bool copied = false;
        written = 0;
        if (e != null)
        {
            ReadOnlySpan<byte> value = new EntryReader(e).Value;
            written = value.Length;
            copied = value.TryCopyTo(destination);
        }

        Epoch.Exit(t);
        return copied;
    }

    /// <summary>Writes the value stored for <paramref name="key"/> to <paramref name="destination"/>.</summary>
    /// <returns>True when the key was found and its value written; false when it is absent.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryGet(ReadOnlySpan<byte> key, IBufferWriter<byte> destination)
    {
        if (destination is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(destination));
        }

        var write = new WriteTo(destination);
        return ReadCore(key, ref write);
    }

    /// <summary>
    /// Zero-copy read: calls <paramref name="reader"/> with the stored value while it is guaranteed to stay valid.
    /// The span must not escape the callback. Other threads' reads and writes proceed meanwhile, but memory
    /// retired during a long callback is freed only after it returns.
    /// </summary>
    /// <typeparam name="TState">State passed to the callback, so it need not capture.</typeparam>
    /// <returns>True when the key was found and <paramref name="reader"/> was called.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="reader"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryRead<TState>(ReadOnlySpan<byte> key, TState state, ReadOnlySpanAction<byte, TState> reader)
        where TState : allows ref struct
    {
        if (reader is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(reader));
        }

        var call = new CallBack<TState>(reader, state);
        return ReadCore(key, ref call);
    }

    /// <summary>True when <paramref name="key"/> is present.</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool ContainsKey(ReadOnlySpan<byte> key)
    {
        ulong hash = HashOf(key);
        Shard shard = ShardFor(hash);
        Epoch.EpochThread t = Epoch.Enter();
        if (Volatile.Read(ref _disposed) != 0)
        {
            ExitAndThrowDisposed(t);
        }

        bool found = shard.FindEntry(key, hash) != null;
        Epoch.Exit(t);
        return found;
    }

    /// <summary>
    /// Removes every entry and gives the memory back to the OS once reads in flight have finished with it (Clear
    /// waits for that, then empties the chunk pools). Safe while other threads use the map: each shard is emptied
    /// atomically, and a write racing with Clear lands before or after it. Readers never wait for Clear.
    /// </summary>
    /// <exception cref="OutOfMemoryException">An empty index could not be allocated; shards not yet cleared keep their entries.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public void Clear()
    {
        ThrowIfDisposed();
        foreach (Shard s in _shards)
        {
            s.Clear();
        }

        if (Epoch.IsProtected)
        {
            // Inside a read callback the grace period cannot end before this thread leaves it; a later drain frees it.
            _retired.TryDrain();
            return;
        }

        _retired.DrainAll();
        _pool.Trim();
    }

    /// <summary>
    /// Compacts every shard now, on the calling thread: live entries of every chunk holding dead bytes are moved,
    /// index tables are rebuilt to fit their entries, the emptied memory is freed once in-flight reads finish, and
    /// the chunk pools give their free chunks back to the OS. Returns when that is done. Readers are never
    /// blocked; each shard's writers wait at most one bounded batch at a time.
    /// </summary>
    /// <returns>Chunks compacted.</returns>
    /// <exception cref="OutOfMemoryException">A chunk to copy into could not be allocated; no entry is lost and the map stays usable.</exception>
    /// <exception cref="InvalidOperationException">Called from inside a <see cref="TryRead{TState}"/> callback (it would wait on itself).</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public int Compact()
    {
        ThrowIfDisposed();
        if (Epoch.IsProtected)
        {
            ThrowHelper.ThrowInvalidOperation("ByteMap.Compact cannot be called from inside a read callback.");
        }

        int chunks = 0;
        using (_compactionGate.EnterScope())
        {
            foreach (Shard s in _shards)
            {
                chunks += s.Compact(everything: true);
            }

            Interlocked.Increment(ref _compactionPasses);
        }

        ThrowIfDisposed();
        _retired.DrainAll();
        _pool.Trim();
        return chunks;
    }

    /// <summary>One background pass: compacts the shards that asked. Never throws; failures go to statistics.</summary>
    private void RunCompactionPass()
    {
        using (_compactionGate.EnterScope())
        {
            foreach (Shard s in _shards)
            {
                if (Volatile.Read(ref _disposed) != 0)
                {
                    return;
                }

                if (!s.TakeCompactionRequest())
                {
                    continue;
                }

                try
                {
                    s.Compact(everything: false);
                }
                catch (Exception ex)
                {
                    // [C4] The shard is consistent (no entry was moved halfway); record and go on with the others.
                    Interlocked.Increment(ref _compactionErrors);
                    Volatile.Write(ref _lastCompactionError, ex);
                }
            }

            Interlocked.Increment(ref _compactionPasses);
        }

        _retired.TryDrain();
    }

    internal ChunkPolicy ChunkPolicy { get; }

    internal int[] ChunkSizes { get; }

    internal double CompactionDeadRatio { get; }

    internal long CompactionMinDeadBytes { get; }

    /// <summary>A shard crossed its compaction thresholds (called under that shard's lock).</summary>
    internal void RequestCompaction() => _scheduler?.Request();

    /// <summary>Reads the map's counters without stopping it.</summary>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public CMapStatistics GetStatistics()
    {
        ThrowIfDisposed();
        long count = 0, live = 0, dead = 0, chunks = 0, oversize = 0, index = 0, rebuilds = 0, compacted = 0, moved = 0, reclaimed = 0;
        foreach (Shard s in _shards)
        {
            count += s.Count;
            live += s.LiveBytes;
            dead += s.DeadBytes;
            chunks += s.ChunkBytes;
            oversize += s.OversizeBytes;
            index += s.IndexBytes;
            rebuilds += s.Rebuilds;
            compacted += s.ChunksCompacted;
            moved += s.BytesMoved;
            reclaimed += s.BytesReclaimed;
        }

        return new CMapStatistics
        {
            Count = count,
            LiveBytes = live,
            DeadBytes = dead,
            ChunkBytes = chunks,
            OversizeBytes = oversize,
            IndexBytes = index,
            IndexRebuilds = rebuilds,
            NativeBytes = _arena.OutstandingBytes,
            PendingRetiredBytes = _retired.PendingBytes,
            ChunksAllocated = Volatile.Read(ref _pool.Counters.ChunksAllocated),
            ChunksReturnedToOs = Volatile.Read(ref _pool.Counters.ChunksReturnedToOs),
            CompactionPasses = Volatile.Read(ref _compactionPasses),
            ChunksCompacted = compacted,
            CompactionBytesMoved = moved,
            CompactionBytesReclaimed = reclaimed,
            CompactionErrors = Volatile.Read(ref _compactionErrors),
            LastCompactionError = Volatile.Read(ref _lastCompactionError),
        };
    }

    /// <summary>
    /// Frees every native byte once reads in flight have finished. Calls that start afterwards throw
    /// <see cref="ObjectDisposedException"/>; calls already running complete normally. Idempotent.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from inside a <see cref="TryRead{TState}"/> callback (it would wait on itself).</exception>
    public void Dispose()
    {
        if (Epoch.IsProtected)
        {
            ThrowHelper.ThrowInvalidOperation("A ByteMap cannot be disposed from inside a read callback.");
        }

        DisposeCore();
        GC.SuppressFinalize(this);
    }

    private void DisposeCore()
    {
        // [I5] Full fence: readers entering after this see the flag, or Dispose's grace wait covers them.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Stop and join the compactor first, so no pass touches a shard being torn down.
        _scheduler?.Dispose();
        foreach (Shard s in _shards)
        {
            s?.Dispose();
        }

        _retired.DrainAll();
        _pool.Dispose();
    }

    /// <summary>
    /// The read path for consumers that allocate or run user code (and so may throw): looks the key up inside an
    /// epoch region and hands the stored bytes to <paramref name="consumer"/> before leaving it, whatever happens.
    /// <see cref="TryGet(ReadOnlySpan{byte}, Span{byte}, out int)"/> and <see cref="ContainsKey"/> are written out
    /// without the try/finally, since nothing in them can throw.
    /// </summary>
    private bool ReadCore<TConsumer>(ReadOnlySpan<byte> key, ref TConsumer consumer)
        where TConsumer : struct, IValueConsumer, allows ref struct =>
        ReadCore(key, HashOf(key), ref consumer);

    private bool ReadCore<TConsumer>(ReadOnlySpan<byte> key, ulong hash, ref TConsumer consumer)
        where TConsumer : struct, IValueConsumer, allows ref struct
    {
        Shard shard = ShardFor(hash);
        Epoch.EpochThread t = Epoch.Enter();
        try
        {
            ThrowIfDisposed();
            byte* e = shard.FindEntry(key, hash);
            if (e == null)
            {
                return false;
            }

            // [E2] The consumer runs inside the region, so the entry stays readable for as long as it reads.
            consumer.Consume(new EntryReader(e).Value);
            return true;
        }
        finally
        {
            Epoch.Exit(t);
        }
    }

    private interface IValueConsumer
    {
        void Consume(ReadOnlySpan<byte> value);
    }

    private struct CopyToArray : IValueConsumer
    {
        public byte[]? Result;

        public void Consume(ReadOnlySpan<byte> value) => Result = value.ToArray();
    }

    private readonly struct WriteTo(IBufferWriter<byte> writer) : IValueConsumer
    {
        public void Consume(ReadOnlySpan<byte> value)
        {
            value.CopyTo(writer.GetSpan(value.Length));
            writer.Advance(value.Length);
        }
    }

    private readonly ref struct CallBack<TState>(ReadOnlySpanAction<byte, TState> reader, TState state) : IValueConsumer
        where TState : allows ref struct
    {
        private readonly TState _state = state;

        public void Consume(ReadOnlySpan<byte> value) => reader(value, _state);
    }

    /// <summary>The map's one hash: seeded XXH3-64 (masked only by a test hook).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ulong HashOf(ReadOnlySpan<byte> key) => XxHash3.HashToUInt64(key, _seed) & _hashMask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Shard ShardFor(ulong hash) =>
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_shards), (int)(hash >> 32) & _shardMask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckLengths(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        if (key.Length > MaxKeyLength)
        {
            ThrowHelper.ThrowKeyTooLong(key.Length);
        }

        if (value.Length > _maxValueLength)
        {
            ThrowHelper.ThrowValueTooLong(value.Length, _maxValueLength);
        }
    }

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            ThrowHelper.ThrowObjectDisposed();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ExitAndThrowDisposed(Epoch.EpochThread t)
    {
        Epoch.Exit(t);
        ThrowHelper.ThrowObjectDisposed();
    }
}
