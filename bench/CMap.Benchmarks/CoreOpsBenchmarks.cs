using System;
using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using CMap.Benchmarks.Infrastructure;
using Microsoft.Extensions.Caching.Memory;

namespace CMap.Benchmarks;

/// <summary>
/// Single-threaded cost of each core operation, per store, with 16-byte keys and 100-byte values.
/// <para>
/// Every benchmark performs <see cref="Batch"/> operations per invocation (OperationsPerInvoke), walking a key
/// sequence precomputed in [GlobalSetup] (concatenated random permutations of the loaded keys, fixed seed, stored
/// in walk order so that fetching the lookup key is not itself a cache miss), so the reported time is per operation
/// and no key is generated while measuring. The cursor carries on across invocations, so at 1M entries the batch
/// keeps moving through cold entries.
/// </para>
/// <para>
/// Categories (each with ConcurrentDictionary as its own baseline):
/// <list type="bullet">
/// <item><b>Get_Hit</b>: lookup of a loaded key; the value is copied into a reused caller buffer. CMap uses the
/// zero-alloc <c>TryGet(key, span, out written)</c>; ConcurrentDictionary and MemoryCache do TryGetValue and copy
/// the array into the same kind of buffer; FASTER reads into a pinned buffer. So all four deliver the value bytes
/// into caller memory. [GlobalSetup] checks that every loaded key is found with the right length (throws otherwise).</item>
/// <item><b>Get_Miss</b>: lookup of keys from an index range disjoint from the loaded one (absent by construction,
/// and checked absent in [GlobalSetup]).</item>
/// <item><b>Insert_New_Delete</b>: one op = insert a key that is not in the store, then delete the fresh key that
/// was inserted <c>W</c> ops earlier (W = min(1024, Entries / 16), pre-inserted in setup). The store size stays at
/// Entries + W, so the numbers do not drift with a growing table, and the deleted key is not trivially cache-hot.
/// Fresh keys come from a pool disjoint from loaded and miss keys and are recycled (a key comes back only long
/// after it was deleted). The time is for the pair; an [IterationSetup] reset was rejected because it forces tiny
/// fixed invocation counts and lets the store grow within an iteration.</item>
/// <item><b>Insert_Overwrite</b>: insert over a loaded key with a different value of the same length.</item>
/// <item><b>Delete_Insert</b>: one op = delete a loaded key, then insert it again (same key, a new value), so the
/// size stays at Entries. The time is for the pair.</item>
/// <item><b>GetOrInsert</b>: on loaded keys, so it always returns the existing value. CMap <c>GetOrInsert</c>
/// (returns a copy of the stored value as a new array: that is the API), ConcurrentDictionary
/// <c>GetOrAdd(key, value)</c>, MemoryCache <c>GetOrCreate</c> with a factory delegate cached in setup, FASTER
/// Read into the pinned buffer then Upsert only when it missed (FASTER has no atomic get-or-add for SpanByte
/// values short of custom RMW functions; the miss branch is never taken here).</item>
/// </list>
/// </para>
/// <para>
/// Each benchmark case runs in its own process and only its own store is built ([GlobalSetup] with Targets);
/// loading 1M entries takes a few seconds. ConcurrentDictionary and CMap are pre-sized for Entries.
/// </para>
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class CoreOpsBenchmarks
{
    /// <summary>Operations per invocation.</summary>
    public const int Batch = 1024;

    public const int KeySize = 16;
    public const int ValueSize = 100;

    private const string GetHit = "Get_Hit";
    private const string GetMiss = "Get_Miss";
    private const string InsertNewDelete = "Insert_New_Delete";
    private const string InsertOverwrite = "Insert_Overwrite";
    private const string DeleteInsert = "Delete_Insert";
    private const string GetOrInsertCategory = "GetOrInsert";

    private const ulong KeySalt = 0xC3A5C85C97CB3127ul;
    private const int OrderSeed = 20_251_122;
    private const int AltValueCount = 64; // power of two
    private const int FreshPoolMin = 1 << 14;
    private const int FreshPoolMax = 1 << 18;
    private const int MissCountMax = 1 << 20;

    // _keys[i] is loaded key i (used to load and verify). Measured loops never index it: they walk _seqKeys, where
    // position p holds a copy of key _order[p], allocated in walk order. Fetching the lookup key is then a
    // sequential, prefetched stream (like a key that just arrived in a request buffer) instead of a random cache
    // miss that would be charged to every store alike: at 1M entries that miss alone was ~170 ns/op, over a third
    // of a Get_Hit, and it compressed every ratio. The stores hold their own copies (ConcurrentDictionary keys are
    // clones, MemoryCache keys separately built strings), so a lookup always compares two different instances.
    private byte[][] _keys = null!;
    private byte[][] _seqKeys = null!;
    private string[] _seqHexKeys = null!;
    private byte[][] _missKeys = null!;
    private byte[][] _freshKeys = null!;
    private string[] _hexMissKeys = null!;
    private string[] _hexFreshKeys = null!;
    private byte[][] _altValues = null!;
    private byte[] _newValue = null!;
    private int[] _order = null!;
    private int _window;
    private byte[] _buffer = null!;

    private int _pos;
    private int _missPos;
    private int _freshPos;

    private ConcurrentDictionary<byte[], byte[]> _dictionary = null!;
    private ByteMap _map = null!;
    private MemoryCache _cache = null!;
    private Func<ICacheEntry, byte[]> _cacheFactory = null!;
    private FasterStore _fasterStore = null!;
    private FasterSession _faster = null!;

    [Params(1_000, 1_000_000)]
    public int Entries { get; set; }

    // ---------------------------------------------------------------- setup

    [GlobalSetup(Targets = new[]
    {
        nameof(ConcurrentDictionary_Get_Hit), nameof(ConcurrentDictionary_Get_Miss), nameof(ConcurrentDictionary_Insert_Overwrite),
        nameof(ConcurrentDictionary_Delete_Insert), nameof(ConcurrentDictionary_GetOrInsert),
    })]
    public void SetupConcurrentDictionary() => LoadConcurrentDictionary(prefillWindow: false);

    [GlobalSetup(Target = nameof(ConcurrentDictionary_Insert_New_Delete))]
    public void SetupConcurrentDictionaryChurn() => LoadConcurrentDictionary(prefillWindow: true);

    [GlobalSetup(Targets = new[]
    {
        nameof(CMap_Get_Hit), nameof(CMap_Get_Miss), nameof(CMap_Insert_Overwrite), nameof(CMap_Delete_Insert), nameof(CMap_GetOrInsert),
    })]
    public void SetupCMap() => LoadCMap(prefillWindow: false);

    [GlobalSetup(Target = nameof(CMap_Insert_New_Delete))]
    public void SetupCMapChurn() => LoadCMap(prefillWindow: true);

    [GlobalSetup(Targets = new[]
    {
        nameof(MemoryCache_Get_Hit), nameof(MemoryCache_Get_Miss), nameof(MemoryCache_Insert_Overwrite), nameof(MemoryCache_Delete_Insert),
        nameof(MemoryCache_GetOrInsert),
    })]
    public void SetupMemoryCache() => LoadMemoryCache(prefillWindow: false);

    [GlobalSetup(Target = nameof(MemoryCache_Insert_New_Delete))]
    public void SetupMemoryCacheChurn() => LoadMemoryCache(prefillWindow: true);

    [GlobalSetup(Targets = new[]
    {
        nameof(Faster_Get_Hit), nameof(Faster_Get_Miss), nameof(Faster_Insert_Overwrite), nameof(Faster_Delete_Insert), nameof(Faster_GetOrInsert),
    })]
    public void SetupFaster() => LoadFaster(prefillWindow: false);

    [GlobalSetup(Target = nameof(Faster_Insert_New_Delete))]
    public void SetupFasterChurn() => LoadFaster(prefillWindow: true);

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_map is not null)
        {
            CMapStatistics s = _map.GetStatistics();
            Console.WriteLine($"// CMap after run: Count={s.Count:N0} Live={s.LiveBytes:N0} Dead={s.DeadBytes:N0} Chunks={s.ChunkBytes:N0} " +
                $"Oversize={s.OversizeBytes:N0} Index={s.IndexBytes:N0} Native={s.NativeBytes:N0} PendingRetired={s.PendingRetiredBytes:N0} " +
                $"Rebuilds={s.IndexRebuilds:N0} ChunksAllocated={s.ChunksAllocated:N0} ChunksReturnedToOs={s.ChunksReturnedToOs:N0}");
        }

        // The size-stable designs must really be size-stable.
        long expected = Entries + _window;
        if (_dictionary is not null && _dictionary.Count != expected)
        {
            throw new InvalidOperationException($"ConcurrentDictionary holds {_dictionary.Count} entries after the run; expected {expected}.");
        }

        if (_map is not null && _map.Count != expected)
        {
            throw new InvalidOperationException($"CMap holds {_map.Count} entries after the run; expected {expected}.");
        }

        if (_cache is not null && _cache.Count != expected)
        {
            throw new InvalidOperationException($"MemoryCache holds {_cache.Count} entries after the run; expected {expected}.");
        }

        _map?.Dispose();
        _cache?.Dispose();
        _fasterStore?.Dispose();
        _map = null!;
        _cache = null!;
        _fasterStore = null!;
        _dictionary = null!;
    }

    private void GenerateData()
    {
        int n = Entries;
        int missCount = BenchData.RoundUp(Math.Min(Math.Max(n, 4 * Batch), MissCountMax), Batch);
        int freshCount = Math.Clamp(n, FreshPoolMin, FreshPoolMax);
        _keys = BenchData.Keys(0, n, KeySize, KeySalt);
        _missKeys = BenchData.Keys(n, missCount, KeySize, KeySalt);
        _freshKeys = BenchData.Keys((long)n + missCount, freshCount, KeySize, KeySalt);
        _altValues = new byte[AltValueCount][];
        for (int i = 0; i < AltValueCount; i++)
        {
            _altValues[i] = BenchData.Value(-1 - i, ValueSize);
        }

        _newValue = BenchData.Value(long.MinValue, ValueSize);
        _order = BenchData.PermutationSequence(n, BenchData.RoundUp(n, Batch), OrderSeed);
        _seqKeys = new byte[_order.Length][];
        for (int p = 0; p < _order.Length; p++)
        {
            _seqKeys[p] = (byte[])_keys[_order[p]].Clone();
        }

        _buffer = GC.AllocateArray<byte>(ValueSize * 2, pinned: true);
        _window = 0;
        _pos = 0;
        _missPos = 0;
        _freshPos = 0;
    }

    /// <summary>For the churn benchmarks: W fresh keys are in the store before the first measured op.</summary>
    private int PrefillWindow(Action<byte[], int> insert)
    {
        _window = Math.Max(1, Math.Min(Batch, Entries / 16));
        for (int i = 0; i < _window; i++)
        {
            insert(_freshKeys[i], i);
        }

        _freshPos = _window;
        return _window;
    }

    private void LoadConcurrentDictionary(bool prefillWindow)
    {
        GenerateData();
        _dictionary = new ConcurrentDictionary<byte[], byte[]>(Environment.ProcessorCount, Entries + Batch, ByteArrayComparer.Instance);
        for (int i = 0; i < Entries; i++)
        {
            _dictionary[(byte[])_keys[i].Clone()] = BenchData.Value(i, ValueSize);
        }

        if (prefillWindow)
        {
            PrefillWindow((k, _) => _dictionary[k] = _newValue);
        }

        Verify("ConcurrentDictionary", k => _dictionary.TryGetValue(k, out byte[]? v) ? v.Length : -1);
    }

    private void LoadCMap(bool prefillWindow)
    {
        GenerateData();
        _map = new ByteMap(new CMapConfig { Seed = 0x5EED_CAFE, InitialCapacity = Entries + Batch });
        Span<byte> value = stackalloc byte[ValueSize];
        for (int i = 0; i < Entries; i++)
        {
            BenchData.FillValue(i, value);
            _map.Insert(_keys[i], value);
        }

        if (prefillWindow)
        {
            PrefillWindow((k, _) => _map.Insert(k, _newValue));
        }

        Verify("CMap", k => _map.TryGet(k, _buffer, out int w) ? w : -1);

        // Content check as well as presence: TryGet must return the bytes that were loaded.
        byte[] expected = new byte[ValueSize];
        for (int i = 0; i < Entries; i += Math.Max(1, Entries / 997))
        {
            BenchData.FillValue(i, expected);
            if (!_map.TryGet(_keys[i], _buffer, out int w) || !_buffer.AsSpan(0, w).SequenceEqual(expected))
            {
                throw new InvalidOperationException($"CMap returned wrong bytes for key {i}.");
            }
        }
    }

    private void LoadMemoryCache(bool prefillWindow)
    {
        GenerateData();
        _seqHexKeys = BenchData.Hex(_seqKeys);
        _hexMissKeys = BenchData.Hex(_missKeys);
        _hexFreshKeys = BenchData.Hex(_freshKeys);
        _cache = new MemoryCache(new MemoryCacheOptions());
        for (int i = 0; i < Entries; i++)
        {
            // A separately built string, so lookups compare two different instances.
            _cache.Set(Convert.ToHexString(_keys[i]), BenchData.Value(i, ValueSize));
        }

        byte[] newValue = _newValue;
        _cacheFactory = _ => newValue;
        if (prefillWindow)
        {
            PrefillWindow((_, i) => _cache.Set(_hexFreshKeys[i], _newValue));
        }

        var index = new System.Collections.Generic.Dictionary<byte[], string>(ByteArrayComparer.Instance);
        for (int i = 0; i < _keys.Length; i++)
        {
            index[_keys[i]] = Convert.ToHexString(_keys[i]);
        }

        for (int i = 0; i < _missKeys.Length; i++)
        {
            index[_missKeys[i]] = _hexMissKeys[i];
        }

        Verify("MemoryCache", k => _cache.TryGetValue(index[k], out object? v) ? ((byte[])v!).Length : -1);
    }

    private void LoadFaster(bool prefillWindow)
    {
        GenerateData();
        _fasterStore = new FasterStore(Entries + Batch, KeySize, ValueSize);
        _faster = _fasterStore.NewSession();
        byte[] value = new byte[ValueSize];
        for (int i = 0; i < Entries; i++)
        {
            BenchData.FillValue(i, value);
            _faster.Upsert(_keys[i], value);
        }

        if (prefillWindow)
        {
            PrefillWindow((k, _) => _faster.Upsert(k, _newValue));
        }

        Verify("FASTER", k => _faster.Read(k, _buffer));
    }

    /// <summary>Every loaded key must hit with a value of the right length; every miss key must miss.</summary>
    private void Verify(string store, Func<byte[], int> lookup)
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            int len = lookup(_keys[i]);
            if (len != ValueSize)
            {
                throw new InvalidOperationException($"{store}: loaded key {i} did not hit (got length {len}); Get_Hit would not measure hits.");
            }
        }

        for (int i = 0; i < _missKeys.Length; i++)
        {
            if (lookup(_missKeys[i]) >= 0)
            {
                throw new InvalidOperationException($"{store}: miss key {i} was found; Get_Miss would not measure misses.");
            }
        }
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

    // ---------------------------------------------------------------- Get_Hit

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetHit)]
    public long ConcurrentDictionary_Get_Hit()
    {
        ConcurrentDictionary<byte[], byte[]> d = _dictionary;
        byte[][] keys = _seqKeys;
        Span<byte> buffer = _buffer;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            if (d.TryGetValue(keys[p + i], out byte[]? v))
            {
                v.CopyTo(buffer);
                sum += v.Length;
            }
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetHit)]
    public long CMap_Get_Hit()
    {
        ByteMap map = _map;
        byte[][] keys = _seqKeys;
        Span<byte> buffer = _buffer;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            map.TryGet(keys[p + i], buffer, out int written);
            sum += written;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetHit)]
    public long MemoryCache_Get_Hit()
    {
        MemoryCache cache = _cache;
        string[] keys = _seqHexKeys;
        Span<byte> buffer = _buffer;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            if (cache.TryGetValue(keys[p + i], out object? o))
            {
                var v = (byte[])o!;
                v.CopyTo(buffer);
                sum += v.Length;
            }
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetHit)]
    public long Faster_Get_Hit()
    {
        FasterSession s = _faster;
        byte[][] keys = _seqKeys;
        byte[] buffer = _buffer;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += s.Read(keys[p + i], buffer);
        }

        return sum;
    }

    // ---------------------------------------------------------------- Get_Miss

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetMiss)]
    public long ConcurrentDictionary_Get_Miss()
    {
        ConcurrentDictionary<byte[], byte[]> d = _dictionary;
        byte[][] keys = _missKeys;
        Span<byte> buffer = _buffer;
        int p = NextMissBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            if (d.TryGetValue(keys[p + i], out byte[]? v))
            {
                v.CopyTo(buffer);
                sum += v.Length;
            }
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetMiss)]
    public long CMap_Get_Miss()
    {
        ByteMap map = _map;
        byte[][] keys = _missKeys;
        Span<byte> buffer = _buffer;
        int p = NextMissBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            map.TryGet(keys[p + i], buffer, out int written);
            sum += written;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetMiss)]
    public long MemoryCache_Get_Miss()
    {
        MemoryCache cache = _cache;
        string[] keys = _hexMissKeys;
        Span<byte> buffer = _buffer;
        int p = NextMissBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            if (cache.TryGetValue(keys[p + i], out object? o))
            {
                var v = (byte[])o!;
                v.CopyTo(buffer);
                sum += v.Length;
            }
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetMiss)]
    public long Faster_Get_Miss()
    {
        FasterSession s = _faster;
        byte[][] keys = _missKeys;
        byte[] buffer = _buffer;
        int p = NextMissBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += s.Read(keys[p + i], buffer);
        }

        return sum;
    }

    // ---------------------------------------------------------------- Insert_New_Delete (insert fresh key + delete the one from W ops ago)

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    [BenchmarkCategory(InsertNewDelete)]
    public long ConcurrentDictionary_Insert_New_Delete()
    {
        ConcurrentDictionary<byte[], byte[]> d = _dictionary;
        byte[][] fresh = _freshKeys;
        byte[] value = _newValue;
        int n = fresh.Length;
        int w = _window;
        int p = NextFreshBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            int j = p + i;
            int add = j >= n ? j - n : j;
            int del = add >= w ? add - w : add - w + n;
            d[fresh[add]] = value;
            sum += d.TryRemove(fresh[del], out _) ? 1 : 0;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(InsertNewDelete)]
    public long CMap_Insert_New_Delete()
    {
        ByteMap map = _map;
        byte[][] fresh = _freshKeys;
        byte[] value = _newValue;
        int n = fresh.Length;
        int w = _window;
        int p = NextFreshBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            int j = p + i;
            int add = j >= n ? j - n : j;
            int del = add >= w ? add - w : add - w + n;
            sum += map.Insert(fresh[add], value) ? 1 : 0;
            sum += map.Delete(fresh[del]) ? 1 : 0;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(InsertNewDelete)]
    public long MemoryCache_Insert_New_Delete()
    {
        MemoryCache cache = _cache;
        string[] fresh = _hexFreshKeys;
        byte[] value = _newValue;
        int n = fresh.Length;
        int w = _window;
        int p = NextFreshBatch();
        for (int i = 0; i < Batch; i++)
        {
            int j = p + i;
            int add = j >= n ? j - n : j;
            int del = add >= w ? add - w : add - w + n;
            cache.Set(fresh[add], value);
            cache.Remove(fresh[del]);
        }

        return p;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(InsertNewDelete)]
    public long Faster_Insert_New_Delete()
    {
        FasterSession s = _faster;
        byte[][] fresh = _freshKeys;
        byte[] value = _newValue;
        int n = fresh.Length;
        int w = _window;
        int p = NextFreshBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            int j = p + i;
            int add = j >= n ? j - n : j;
            int del = add >= w ? add - w : add - w + n;
            s.Upsert(fresh[add], value);
            sum += s.Delete(fresh[del]) ? 1 : 0;
        }

        return sum;
    }

    // ---------------------------------------------------------------- Insert_Overwrite

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    [BenchmarkCategory(InsertOverwrite)]
    public long ConcurrentDictionary_Insert_Overwrite()
    {
        ConcurrentDictionary<byte[], byte[]> d = _dictionary;
        byte[][] keys = _seqKeys;
        byte[][] values = _altValues;
        int p = NextBatch();
        for (int i = 0; i < Batch; i++)
        {
            d[keys[p + i]] = values[i & (AltValueCount - 1)];
        }

        return p;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(InsertOverwrite)]
    public long CMap_Insert_Overwrite()
    {
        ByteMap map = _map;
        byte[][] keys = _seqKeys;
        byte[][] values = _altValues;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += map.Insert(keys[p + i], values[i & (AltValueCount - 1)]) ? 1 : 0;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(InsertOverwrite)]
    public long MemoryCache_Insert_Overwrite()
    {
        MemoryCache cache = _cache;
        string[] keys = _seqHexKeys;
        byte[][] values = _altValues;
        int p = NextBatch();
        for (int i = 0; i < Batch; i++)
        {
            cache.Set(keys[p + i], values[i & (AltValueCount - 1)]);
        }

        return p;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(InsertOverwrite)]
    public long Faster_Insert_Overwrite()
    {
        FasterSession s = _faster;
        byte[][] keys = _seqKeys;
        byte[][] values = _altValues;
        int p = NextBatch();
        for (int i = 0; i < Batch; i++)
        {
            s.Upsert(keys[p + i], values[i & (AltValueCount - 1)]);
        }

        return p;
    }

    // ---------------------------------------------------------------- Delete_Insert (delete a loaded key + insert it again)

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    [BenchmarkCategory(DeleteInsert)]
    public long ConcurrentDictionary_Delete_Insert()
    {
        ConcurrentDictionary<byte[], byte[]> d = _dictionary;
        byte[][] keys = _seqKeys;
        byte[][] values = _altValues;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            byte[] k = keys[p + i];
            sum += d.TryRemove(k, out _) ? 1 : 0;
            d[k] = values[i & (AltValueCount - 1)];
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(DeleteInsert)]
    public long CMap_Delete_Insert()
    {
        ByteMap map = _map;
        byte[][] keys = _seqKeys;
        byte[][] values = _altValues;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            byte[] k = keys[p + i];
            sum += map.Delete(k) ? 1 : 0;
            sum += map.Insert(k, values[i & (AltValueCount - 1)]) ? 1 : 0;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(DeleteInsert)]
    public long MemoryCache_Delete_Insert()
    {
        MemoryCache cache = _cache;
        string[] keys = _seqHexKeys;
        byte[][] values = _altValues;
        int p = NextBatch();
        for (int i = 0; i < Batch; i++)
        {
            string k = keys[p + i];
            cache.Remove(k);
            cache.Set(k, values[i & (AltValueCount - 1)]);
        }

        return p;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(DeleteInsert)]
    public long Faster_Delete_Insert()
    {
        FasterSession s = _faster;
        byte[][] keys = _seqKeys;
        byte[][] values = _altValues;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            byte[] k = keys[p + i];
            sum += s.Delete(k) ? 1 : 0;
            s.Upsert(k, values[i & (AltValueCount - 1)]);
        }

        return sum;
    }

    // ---------------------------------------------------------------- GetOrInsert (existing keys: returns the stored value)

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetOrInsertCategory)]
    public long ConcurrentDictionary_GetOrInsert()
    {
        ConcurrentDictionary<byte[], byte[]> d = _dictionary;
        byte[][] keys = _seqKeys;
        byte[] value = _newValue;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += d.GetOrAdd(keys[p + i], value).Length;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetOrInsertCategory)]
    public long CMap_GetOrInsert()
    {
        ByteMap map = _map;
        byte[][] keys = _seqKeys;
        byte[] value = _newValue;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += map.GetOrInsert(keys[p + i], value, out bool inserted).Length;
            sum += inserted ? 1 : 0;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetOrInsertCategory)]
    public long MemoryCache_GetOrInsert()
    {
        MemoryCache cache = _cache;
        string[] keys = _seqHexKeys;
        Func<ICacheEntry, byte[]> factory = _cacheFactory;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            sum += cache.GetOrCreate(keys[p + i], factory)!.Length;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory(GetOrInsertCategory)]
    public long Faster_GetOrInsert()
    {
        FasterSession s = _faster;
        byte[][] keys = _seqKeys;
        byte[] value = _newValue;
        byte[] buffer = _buffer;
        int p = NextBatch();
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            byte[] k = keys[p + i];
            int len = s.Read(k, buffer);
            if (len < 0)
            {
                s.Upsert(k, value);
                len = value.Length;
            }

            sum += len;
        }

        return sum;
    }
}
