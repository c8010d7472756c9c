using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Attributes;
using CMap.Bench.Stores;
using CMap.Benchmarks.Infrastructure;

namespace CMap.Benchmarks;

/// <summary>The single-threaded operations of <see cref="CoreOpsBenchmarks"/>.</summary>
public enum CoreOperation
{
    /// <summary>Lookup of a loaded key; the value is copied into a reused caller buffer.</summary>
    GetHit,

    /// <summary>Lookup of a key from an index range disjoint from the loaded one (absent by construction).</summary>
    GetMiss,

    /// <summary>Insert over a loaded key with another value of the same length.</summary>
    InsertOverwrite,

    /// <summary>Insert a key not in the store, then delete the fresh key inserted W operations earlier (the pair is one op).</summary>
    InsertNewDelete,

    /// <summary>Delete a loaded key, then insert it again with a new value (the pair is one op).</summary>
    DeleteInsert,

    /// <summary>Get-or-insert on loaded keys: always returns the existing value.</summary>
    GetOrInsert,
}

/// <summary>
/// Single-threaded cost of each core operation (<see cref="Operation"/>), per store, with 16-byte keys and 100-byte
/// values. One benchmark method per store, each running the same code through the store's adapter
/// (bench/CMap.Bench.Shared/Stores): ConcurrentDictionary is the baseline of every (Operation, Entries) pair.
/// <para>
/// Every benchmark performs <see cref="Batch"/> operations per invocation (OperationsPerInvoke), walking a key
/// sequence precomputed in [GlobalSetup] (concatenated random permutations of the loaded keys, fixed seed, stored
/// in walk order so that fetching the lookup key is not itself a cache miss), so the reported time is per operation
/// and no key is generated while measuring. The cursor carries on across invocations, so at 1M entries the batch
/// keeps moving through cold entries. Keys are prepared in setup in the form each store's API takes
/// (<see cref="IStore.PrepareKey"/>: MemoryCache gets hex strings), so no conversion is timed.
/// </para>
/// <para>
/// What each store does per operation is in its adapter: reads copy the value into caller memory (CMap
/// <c>TryGet</c> into a span; ConcurrentDictionary and MemoryCache TryGetValue and a copy; FASTER Read into the
/// span); ConcurrentDictionary and MemoryCache keep the value array they are given, CMap and FASTER copy the bytes.
/// GetOrInsert: CMap <c>GetOrInsert</c> with a callback (the non-allocating form: the stored value reaches it as a span), ConcurrentDictionary
/// <c>GetOrAdd(key, value)</c>, MemoryCache <c>GetOrCreate</c> with a factory made once, FASTER Read then Upsert only
/// on a miss (it has no atomic get-or-add for SpanByte values short of custom RMW functions).
/// </para>
/// <para>
/// InsertNewDelete: W = min(1024, Entries / 16) fresh keys are inserted in setup, so the store size stays at
/// Entries + W and the deleted key is not trivially cache-hot; fresh keys come from a pool disjoint from loaded and
/// miss keys and are recycled long after they were deleted. [GlobalSetup] checks that every loaded key hits with the
/// right value and every miss key misses; [GlobalCleanup] that the size-stable operations kept the size.
/// </para>
/// <para>
/// Each case runs in its own process and builds only its own store. CMAP_BENCH_OPS (e.g. "GetHit,InsertOverwrite")
/// and CMAP_BENCH_ENTRIES (e.g. "1000") narrow the parameters for a quick run.
/// </para>
/// </summary>
[MemoryDiagnoser]
public class CoreOpsBenchmarks
{
    /// <summary>Operations per invocation.</summary>
    public const int Batch = 1024;

    public const int KeySize = 16;
    public const int ValueSize = 100;

    private const ulong KeySalt = 0xC3A5C85C97CB3127ul;
    private const ulong StoreSeed = 0x5EED_CAFE;
    private const int OrderSeed = 20_251_122;
    private const int AltValueCount = 64; // power of two
    private const int FreshPoolMin = 1 << 14;
    private const int FreshPoolMax = 1 << 18;
    private const int MissCountMax = 1 << 20;

    // _keys[i] is loaded key i (used to load and verify). Measured loops never index it: they walk _seqKeys, where
    // position p holds a copy of key _order[p], allocated in walk order. Fetching the lookup key is then a
    // sequential, prefetched stream (like a key that just arrived in a request buffer) instead of a random cache
    // miss that would be charged to every store alike: at 1M entries that miss alone was ~170 ns/op, over a third
    // of a Get hit, and it compressed every ratio. The stores hold their own copies (ConcurrentDictionary keys are
    // clones, MemoryCache keys separately built strings), so a lookup always compares two different instances.
    private byte[][] _keys = null!;
    private StoreKey[] _seqKeys = null!;
    private StoreKey[] _missKeys = null!;
    private StoreKey[] _freshKeys = null!;
    private byte[][] _missBytes = null!;
    private byte[][] _altValues = null!;
    private byte[] _newValue = null!;
    private int[] _order = null!;
    private int _window;
    private byte[] _buffer = null!;

    private int _pos;
    private int _missPos;
    private int _freshPos;

    private IStore? _store;
    private IStoreSession _session = null!;

    [ParamsSource(nameof(EntryCounts))]
    public int Entries { get; set; }

    [ParamsSource(nameof(Operations))]
    public CoreOperation Operation { get; set; }

    /// <summary>1 K and 1 M entries, or the list in CMAP_BENCH_ENTRIES.</summary>
    public static IEnumerable<int> EntryCounts() =>
        Environment.GetEnvironmentVariable("CMAP_BENCH_ENTRIES") is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(e => int.Parse(e, NumberStyles.Integer, CultureInfo.InvariantCulture))
            : [1_000, 1_000_000];

    /// <summary>Every operation, or the list in CMAP_BENCH_OPS.</summary>
    public static IEnumerable<CoreOperation> Operations() =>
        Environment.GetEnvironmentVariable("CMAP_BENCH_OPS") is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Enum.Parse<CoreOperation>)
            : Enum.GetValues<CoreOperation>();

    // ---------------------------------------------------------------- one method per store (the baseline is a method)

    [GlobalSetup(Target = nameof(ConcurrentDictionary))]
    public void SetupConcurrentDictionary() => Setup(new ConcurrentDictionaryStore(Shape()));

    [GlobalSetup(Target = nameof(CMap))]
    public void SetupCMap() => Setup(new CMapStore(Shape()));

    [GlobalSetup(Target = nameof(MemoryCache))]
    public void SetupMemoryCache() => Setup(new MemoryCacheStore(Shape()));

    [GlobalSetup(Target = nameof(Faster))]
    public void SetupFaster() => Setup(new FasterStore(Shape()));

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public long ConcurrentDictionary() => Run();

    [Benchmark(OperationsPerInvoke = Batch)]
    public long CMap() => Run();

    [Benchmark(OperationsPerInvoke = Batch)]
    public long MemoryCache() => Run();

    [Benchmark(OperationsPerInvoke = Batch)]
    public long Faster() => Run();

    // ---------------------------------------------------------------- setup and cleanup

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_store is CMapStore cmap)
        {
            Console.WriteLine($"// CMap after run: {cmap.DescribeStatistics()}");
        }

        // The size-stable operations must really be size-stable.
        long expected = Entries + _window;
        if (_store?.Count is long count && count != expected)
        {
            throw new InvalidOperationException($"{_store.GetType().Name} holds {count} entries after the run; expected {expected}.");
        }

        _store?.Dispose();
        _store = null;
    }

    private StoreShape Shape() => new(Entries + Batch, KeySize, ValueSize, StoreSeed);

    private void Setup(IStore store)
    {
        _store = store;
        _session = store.OpenSession();
        GenerateData(store);
        Span<byte> value = stackalloc byte[ValueSize];
        for (int i = 0; i < Entries; i++)
        {
            BenchData.FillValue(i, value);
            _session.Insert(_keys[i], value);
        }

        if (Operation == CoreOperation.InsertNewDelete)
        {
            // W fresh keys are in the store before the first measured op.
            _window = Math.Max(1, Math.Min(Batch, Entries / 16));
            for (int i = 0; i < _window; i++)
            {
                _session.Insert(in _freshKeys[i], _newValue);
            }

            _freshPos = _window;
        }

        Verify();
    }

    private void GenerateData(IStore store)
    {
        int n = Entries;
        int missCount = BenchData.RoundUp(Math.Min(Math.Max(n, 4 * Batch), MissCountMax), Batch);
        int freshCount = Math.Clamp(n, FreshPoolMin, FreshPoolMax);
        _keys = BenchData.Keys(0, n, KeySize, KeySalt);
        _missBytes = BenchData.Keys(n, missCount, KeySize, KeySalt);
        _missKeys = Array.ConvertAll(_missBytes, store.PrepareKey);
        _freshKeys = Array.ConvertAll(BenchData.Keys((long)n + missCount, freshCount, KeySize, KeySalt), store.PrepareKey);
        _altValues = new byte[AltValueCount][];
        for (int i = 0; i < AltValueCount; i++)
        {
            _altValues[i] = BenchData.Value(-1 - i, ValueSize);
        }

        _newValue = BenchData.Value(long.MinValue, ValueSize);
        _order = BenchData.PermutationSequence(n, BenchData.RoundUp(n, Batch), OrderSeed);
        _seqKeys = new StoreKey[_order.Length];
        for (int p = 0; p < _order.Length; p++)
        {
            _seqKeys[p] = store.PrepareKey((byte[])_keys[_order[p]].Clone());
        }

        _buffer = GC.AllocateArray<byte>(ValueSize * 2, pinned: true);
        _window = 0;
        _pos = 0;
        _missPos = 0;
        _freshPos = 0;
    }

    /// <summary>Every loaded key must read back its value; every miss key must miss.</summary>
    private void Verify()
    {
        string store = _store!.GetType().Name;
        byte[] expected = new byte[ValueSize];
        for (int i = 0; i < _keys.Length; i++)
        {
            BenchData.FillValue(i, expected);
            if (!_session.TryGet(_keys[i], _buffer, out int written) || !_buffer.AsSpan(0, written).SequenceEqual(expected))
            {
                throw new InvalidOperationException($"{store}: loaded key {i} did not read back its value; hits would not measure hits.");
            }
        }

        for (int i = 0; i < _missBytes.Length; i++)
        {
            if (_session.TryGet(_missBytes[i], _buffer, out _))
            {
                throw new InvalidOperationException($"{store}: miss key {i} was found; misses would not measure misses.");
            }
        }
    }

    // ---------------------------------------------------------------- the operations (each a batch)

    private long Run() => Operation switch
    {
        CoreOperation.GetHit => Get(_seqKeys, NextBatch()),
        CoreOperation.GetMiss => Get(_missKeys, NextMissBatch()),
        CoreOperation.InsertOverwrite => InsertOverwrite(),
        CoreOperation.InsertNewDelete => InsertNewDelete(),
        CoreOperation.DeleteInsert => DeleteInsert(),
        CoreOperation.GetOrInsert => GetOrInsert(),
        _ => throw new InvalidOperationException($"Unknown operation {Operation}."),
    };

    private long Get(StoreKey[] keys, int p)
    {
        IStoreSession s = _session;
        Span<byte> buffer = _buffer;
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            if (s.TryGet(in keys[p + i], buffer, out int written))
            {
                sum += written;
            }
        }

        return sum;
    }

    private long InsertOverwrite()
    {
        IStoreSession s = _session;
        StoreKey[] keys = _seqKeys;
        byte[][] values = _altValues;
        int p = NextBatch();
        for (int i = 0; i < Batch; i++)
        {
            s.Insert(in keys[p + i], values[i & (AltValueCount - 1)]);
        }

        return p;
    }

    /// <summary>Insert a fresh key, then delete the one inserted W ops ago.</summary>
    private long InsertNewDelete()
    {
        IStoreSession s = _session;
        StoreKey[] fresh = _freshKeys;
        byte[] value = _newValue;
        int n = fresh.Length;
        int w = _window;
        int p = NextFreshBatch();
        for (int i = 0; i < Batch; i++)
        {
            int j = p + i;
            int add = j >= n ? j - n : j;
            int del = add >= w ? add - w : add - w + n;
            s.Insert(in fresh[add], value);
            s.Delete(in fresh[del]);
        }

        return p;
    }

    /// <summary>Delete a loaded key, then insert it again.</summary>
    private long DeleteInsert()
    {
        IStoreSession s = _session;
        StoreKey[] keys = _seqKeys;
        byte[][] values = _altValues;
        int p = NextBatch();
        for (int i = 0; i < Batch; i++)
        {
            s.Delete(in keys[p + i]);
            s.Insert(in keys[p + i], values[i & (AltValueCount - 1)]);
        }

        return p;
    }

    private long GetOrInsert()
    {
        IStoreSession s = _session;
        StoreKey[] keys = _seqKeys;
        byte[] value = _newValue;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += s.GetOrInsert(in keys[p + i], value);
        }

        return sum;
    }

    // ---------------------------------------------------------------- cursors (a few ns per invocation, not per op)

    private int NextBatch()
    {
        int p = _pos;
        int next = p + Batch;
        _pos = next == _order.Length ? 0 : next;
        return p;
    }

    private int NextMissBatch()
    {
        int p = _missPos;
        int next = p + Batch;
        _missPos = next == _missKeys.Length ? 0 : next;
        return p;
    }

    /// <summary>Returns the pool position of the first fresh key of this batch and advances by a batch.</summary>
    private int NextFreshBatch()
    {
        int p = _freshPos;
        _freshPos = (p + Batch) % _freshKeys.Length;
        return p;
    }
}
