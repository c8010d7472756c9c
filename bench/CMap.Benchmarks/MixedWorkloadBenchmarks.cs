using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using BenchmarkDotNet.Attributes;
using CMap.Benchmarks.Infrastructure;
using Microsoft.Extensions.Caching.Memory;

namespace CMap.Benchmarks;

/// <summary>
/// Read/write mix over Zipf-distributed keys (s = 0.86, as in BitFaster.Caching), 16-byte keys.
/// <para>
/// A read copies the value into a per-thread caller buffer (CMap <c>TryGet</c> into a span; ConcurrentDictionary /
/// MemoryCache TryGetValue + copy; FASTER Read into a pinned buffer). A write replaces the value of an existing
/// key (CMap Insert, dictionary indexer, MemoryCache Set, FASTER Upsert) with one of 16 pre-built values of the
/// same size. ConcurrentDictionary and MemoryCache store the reference they are given, CMap and FASTER copy
/// the bytes: that difference is part of what is measured.
/// </para>
/// <para>
/// The op sequence (key index and read/write flag packed in an int) is precomputed in [GlobalSetup] with a fixed
/// seed: Zipf ranks are mapped to keys through a random permutation, so hot keys are scattered over the store.
/// Each invocation runs <see cref="OpsPerInvoke"/> ops split evenly over <see cref="Threads"/> threads (pre-created,
/// released by a Barrier); the calling thread is one of them. The reported time per op is therefore wall time
/// divided by the total ops of all threads (inverse throughput).
/// </para>
/// <para>
/// Shapes (entries × value size) come from <see cref="Shapes"/>, which only yields combinations that fit in memory.
/// CMAP_BENCH_LARGE=1 adds 10M-entry shapes; CMAP_BENCH_SHAPES=1000x100,1000000x16 runs exactly the shapes listed;
/// CMAP_BENCH_THREADS=1,2,4,... overrides the thread counts.
/// </para>
/// </summary>
[MemoryDiagnoser]
public class MixedWorkloadBenchmarks
{
    /// <summary>Operations per invocation (all threads together): big enough to amortize the two barrier phases.</summary>
    public const int OpsPerInvoke = 1 << 16;

    public const int KeySize = 16;
    public const double ZipfS = 0.86;

    private const int SequenceLength = 1 << 20; // multiple of OpsPerInvoke
    private const int WriteFlag = int.MinValue;
    private const int WriteValueCount = 16; // power of two
    private const ulong KeySalt = 0x9AE16A3B2F90404Ful;
    private const int SequenceSeed = 86;
    private const int ResultStride = 16; // longs: one cache line per thread's result

    // _keys[i] is loaded key i (load and verify only). The measured loops read _seqKeys / _seqHexKeys: position p
    // holds a copy of the key of op p, allocated in sequence order, so fetching the lookup key is a prefetched
    // sequential stream rather than a cache miss charged to every store alike (see CoreOpsBenchmarks).
    private byte[][] _keys = null!;
    private byte[][] _seqKeys = null!;
    private string[] _seqHexKeys = null!;
    private byte[][] _writeValues = null!;
    private int[] _sequence = null!;
    private byte[][] _buffers = null!;
    private long[] _results = null!;
    private int _cursor;
    private WorkerGroup _workers = null!;
    private Action<int> _body = null!;

    private ConcurrentDictionary<byte[], byte[]> _dictionary = null!;
    private ByteMap _map = null!;
    private MemoryCache _cache = null!;
    private FasterStore _fasterStore = null!;
    private FasterSession[] _faster = null!;

    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; } = null!;

    /// <summary>Percentage of reads; the rest are writes (overwrites of existing keys).</summary>
    [Params(90.0, 99.0, 99.9)]
    public double ReadPercent { get; set; }

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; }

    /// <summary>
    /// Valid (entries, value size) pairs: 1K and 1M entries with 16 B, 100 B and 4 KiB values, 1 MiB values at 1K
    /// entries only (1M × 1 MiB would need a terabyte), plus 10M × {16 B, 100 B} when CMAP_BENCH_LARGE=1.
    /// </summary>
    public static IEnumerable<Shape> Shapes()
    {
        string? only = Environment.GetEnvironmentVariable("CMAP_BENCH_SHAPES");
        if (!string.IsNullOrWhiteSpace(only))
        {
            // e.g. "1000x100,1000000x4096": run exactly these shapes.
            foreach (string part in only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string[] ev = part.TrimEnd('B', 'b').Split('x');
                yield return new Shape(int.Parse(ev[0], CultureInfo.InvariantCulture), int.Parse(ev[1], CultureInfo.InvariantCulture));
            }

            yield break;
        }

        int[] small = [16, 100, 4096];
        foreach (int v in small)
        {
            yield return new Shape(1_000, v);
        }

        yield return new Shape(1_000, 1 << 20);
        foreach (int v in small)
        {
            yield return new Shape(1_000_000, v);
        }

        if (Environment.GetEnvironmentVariable("CMAP_BENCH_LARGE") == "1")
        {
            yield return new Shape(10_000_000, 16);
            yield return new Shape(10_000_000, 100);
        }
    }

    /// <summary>1 and 2 by default; CMAP_BENCH_THREADS (comma-separated) overrides, e.g. "1,4,16".</summary>
    public static IEnumerable<int> ThreadCounts()
    {
        string? env = Environment.GetEnvironmentVariable("CMAP_BENCH_THREADS");
        if (string.IsNullOrWhiteSpace(env))
        {
            return [1, 2];
        }

        var list = new List<int>();
        foreach (string part in env.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            list.Add(int.Parse(part, CultureInfo.InvariantCulture));
        }

        return list;
    }

    // ---------------------------------------------------------------- setup

    [GlobalSetup(Target = nameof(ConcurrentDictionary_Mixed))]
    public void SetupConcurrentDictionary()
    {
        GenerateData();
        _dictionary = new ConcurrentDictionary<byte[], byte[]>(Environment.ProcessorCount, Shape.Entries, ByteArrayComparer.Instance);
        for (int i = 0; i < Shape.Entries; i++)
        {
            _dictionary[(byte[])_keys[i].Clone()] = BenchData.Value(i, Shape.ValueSize);
        }

        Verify("ConcurrentDictionary", k => _dictionary.TryGetValue(k, out byte[]? v) ? v.Length : -1);
        Start(DictionarySlice);
    }

    [GlobalSetup(Target = nameof(CMap_Mixed))]
    public void SetupCMap()
    {
        GenerateData();
        _map = new ByteMap(new CMapConfig { Seed = 0x5EED_CAFE, InitialCapacity = Shape.Entries });
        byte[] value = new byte[Shape.ValueSize];
        for (int i = 0; i < Shape.Entries; i++)
        {
            BenchData.FillValue(i, value);
            _map.Insert(_keys[i], value);
        }

        Verify("CMap", k => _map.TryGet(k, _buffers[0], out int w) ? w : -1);
        Start(CMapSlice);
    }

    [GlobalSetup(Target = nameof(MemoryCache_Mixed))]
    public void SetupMemoryCache()
    {
        GenerateData();
        _seqHexKeys = BenchData.Hex(_seqKeys);
        _cache = new MemoryCache(new MemoryCacheOptions());
        for (int i = 0; i < Shape.Entries; i++)
        {
            _cache.Set(Convert.ToHexString(_keys[i]), BenchData.Value(i, Shape.ValueSize));
        }

        for (int i = 0; i < _keys.Length; i++)
        {
            if (!_cache.TryGetValue(Convert.ToHexString(_keys[i]), out object? v) || ((byte[])v!).Length != Shape.ValueSize)
            {
                throw new InvalidOperationException($"MemoryCache: loaded key {i} did not hit.");
            }
        }

        Start(MemoryCacheSlice);
    }

    [GlobalSetup(Target = nameof(Faster_Mixed))]
    public void SetupFaster()
    {
        GenerateData();
        _fasterStore = new FasterStore(Shape.Entries, KeySize, Shape.ValueSize);
        _faster = new FasterSession[Threads];
        for (int t = 0; t < Threads; t++)
        {
            _faster[t] = _fasterStore.NewSession();
        }

        byte[] value = new byte[Shape.ValueSize];
        for (int i = 0; i < Shape.Entries; i++)
        {
            BenchData.FillValue(i, value);
            _faster[0].Upsert(_keys[i], value);
        }

        Verify("FASTER", k => _faster[0].Read(k, _buffers[0]));
        Start(FasterSlice);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _workers?.Dispose();
        if (_map is not null)
        {
            CMapStatistics s = _map.GetStatistics();
            Console.WriteLine($"// CMap after run: Count={s.Count:N0} Live={s.LiveBytes:N0} Dead={s.DeadBytes:N0} Chunks={s.ChunkBytes:N0} " +
                $"Oversize={s.OversizeBytes:N0} Index={s.IndexBytes:N0} Native={s.NativeBytes:N0} PendingRetired={s.PendingRetiredBytes:N0} " +
                $"Rebuilds={s.IndexRebuilds:N0} ChunksAllocated={s.ChunksAllocated:N0} ChunksReturnedToOs={s.ChunksReturnedToOs:N0}");
            _map.Dispose();
        }

        _cache?.Dispose();
        _fasterStore?.Dispose();
        _workers = null!;
        _map = null!;
        _cache = null!;
        _fasterStore = null!;
        _dictionary = null!;
    }

    private void GenerateData()
    {
        int n = Shape.Entries;
        int valueSize = Shape.ValueSize;
        if (Threads < 1 || OpsPerInvoke < Threads)
        {
            throw new InvalidOperationException($"Threads must be between 1 and {OpsPerInvoke}.");
        }

        _keys = BenchData.Keys(0, n, KeySize, KeySalt);
        _writeValues = new byte[WriteValueCount][];
        for (int i = 0; i < WriteValueCount; i++)
        {
            _writeValues[i] = BenchData.Value(-1 - i, valueSize);
        }

        // Zipf rank -> key: a random permutation, so the hot keys are spread over shards, chunks and buckets.
        var rng = new Random(SequenceSeed);
        int[] rankToKey = BenchData.PermutationSequence(n, n, SequenceSeed + 1);
        var zipf = new ZipfSampler(n, ZipfS);
        double writeProbability = (100.0 - ReadPercent) / 100.0;
        _sequence = new int[SequenceLength];
        for (int i = 0; i < SequenceLength; i++)
        {
            int key = rankToKey[zipf.Sample(rng)];
            _sequence[i] = rng.NextDouble() < writeProbability ? key | WriteFlag : key;
        }

        _seqKeys = new byte[SequenceLength][];
        for (int i = 0; i < SequenceLength; i++)
        {
            _seqKeys[i] = (byte[])_keys[_sequence[i] & int.MaxValue].Clone();
        }

        _buffers = new byte[Threads][];
        for (int t = 0; t < Threads; t++)
        {
            _buffers[t] = GC.AllocateArray<byte>(valueSize, pinned: true);
        }

        _results = new long[Threads * ResultStride];
        _cursor = 0;
    }

    private void Verify(string store, Func<byte[], int> lookup)
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            if (lookup(_keys[i]) != Shape.ValueSize)
            {
                throw new InvalidOperationException($"{store}: loaded key {i} did not hit; reads would not measure hits.");
            }
        }
    }

    private void Start(Action<int> body)
    {
        _body = body;
        _workers = new WorkerGroup(Threads);
    }

    // ---------------------------------------------------------------- benchmarks

    [Benchmark(Baseline = true, OperationsPerInvoke = OpsPerInvoke)]
    public long ConcurrentDictionary_Mixed() => RunBatch();

    [Benchmark(OperationsPerInvoke = OpsPerInvoke)]
    public long CMap_Mixed() => RunBatch();

    [Benchmark(OperationsPerInvoke = OpsPerInvoke)]
    public long MemoryCache_Mixed() => RunBatch();

    [Benchmark(OperationsPerInvoke = OpsPerInvoke)]
    public long Faster_Mixed() => RunBatch();

    private long RunBatch()
    {
        _workers.Run(_body);
        int next = _cursor + OpsPerInvoke;
        _cursor = next == SequenceLength ? 0 : next;
        long sum = 0;
        for (int t = 0; t < Threads; t++)
        {
            sum += _results[t * ResultStride];
        }

        return sum;
    }

    /// <summary>Thread <paramref name="id"/>'s share of this invocation's ops: [start, end) in the sequence.</summary>
    private (int Start, int End) Slice(int id)
    {
        int threads = Threads;
        int start = _cursor + (int)((long)OpsPerInvoke * id / threads);
        int end = _cursor + (int)((long)OpsPerInvoke * (id + 1) / threads);
        return (start, end);
    }

    private void DictionarySlice(int id)
    {
        (int start, int end) = Slice(id);
        ConcurrentDictionary<byte[], byte[]> d = _dictionary;
        byte[][] keys = _seqKeys;
        byte[][] values = _writeValues;
        int[] seq = _sequence;
        Span<byte> buffer = _buffers[id];
        long sum = 0;
        for (int p = start; p < end; p++)
        {
            int op = seq[p];
            if (op < 0)
            {
                d[keys[p]] = values[p & (WriteValueCount - 1)];
                sum++;
            }
            else if (d.TryGetValue(keys[p], out byte[]? v))
            {
                v.CopyTo(buffer);
                sum += v.Length;
            }
        }

        Volatile.Write(ref _results[id * ResultStride], sum);
    }

    private void CMapSlice(int id)
    {
        (int start, int end) = Slice(id);
        ByteMap map = _map;
        byte[][] keys = _seqKeys;
        byte[][] values = _writeValues;
        int[] seq = _sequence;
        Span<byte> buffer = _buffers[id];
        long sum = 0;
        for (int p = start; p < end; p++)
        {
            int op = seq[p];
            if (op < 0)
            {
                map.Insert(keys[p], values[p & (WriteValueCount - 1)]);
                sum++;
            }
            else
            {
                map.TryGet(keys[p], buffer, out int written);
                sum += written;
            }
        }

        Volatile.Write(ref _results[id * ResultStride], sum);
    }

    private void MemoryCacheSlice(int id)
    {
        (int start, int end) = Slice(id);
        MemoryCache cache = _cache;
        string[] keys = _seqHexKeys;
        byte[][] values = _writeValues;
        int[] seq = _sequence;
        Span<byte> buffer = _buffers[id];
        long sum = 0;
        for (int p = start; p < end; p++)
        {
            int op = seq[p];
            if (op < 0)
            {
                cache.Set(keys[p], values[p & (WriteValueCount - 1)]);
                sum++;
            }
            else if (cache.TryGetValue(keys[p], out object? o))
            {
                var v = (byte[])o!;
                v.CopyTo(buffer);
                sum += v.Length;
            }
        }

        Volatile.Write(ref _results[id * ResultStride], sum);
    }

    private void FasterSlice(int id)
    {
        (int start, int end) = Slice(id);
        FasterSession s = _faster[id];
        byte[][] keys = _seqKeys;
        byte[][] values = _writeValues;
        int[] seq = _sequence;
        byte[] buffer = _buffers[id];
        long sum = 0;
        for (int p = start; p < end; p++)
        {
            int op = seq[p];
            if (op < 0)
            {
                s.Upsert(keys[p], values[p & (WriteValueCount - 1)]);
                sum++;
            }
            else
            {
                sum += s.Read(keys[p], buffer);
            }
        }

        Volatile.Write(ref _results[id * ResultStride], sum);
    }
}

/// <summary>A (entries, value size) pair of <see cref="MixedWorkloadBenchmarks"/>; shown as e.g. "1000000x100B".</summary>
public sealed class Shape(int entries, int valueSize) : IComparable<Shape>, IComparable
{
    public int Entries { get; } = entries;

    public int ValueSize { get; } = valueSize;

    public int CompareTo(Shape? other) =>
        other is null ? 1 : Entries != other.Entries ? Entries.CompareTo(other.Entries) : ValueSize.CompareTo(other.ValueSize);

    public int CompareTo(object? obj) => CompareTo(obj as Shape);

    public override bool Equals(object? obj) => obj is Shape s && s.Entries == Entries && s.ValueSize == ValueSize;

    public override int GetHashCode() => HashCode.Combine(Entries, ValueSize);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Entries}x{ValueSize}B");

    public static bool operator ==(Shape? left, Shape? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(Shape? left, Shape? right) => !(left == right);

    public static bool operator <(Shape? left, Shape? right) => left is null ? right is not null : left.CompareTo(right) < 0;

    public static bool operator <=(Shape? left, Shape? right) => left is null || left.CompareTo(right) <= 0;

    public static bool operator >(Shape? left, Shape? right) => left is not null && left.CompareTo(right) > 0;

    public static bool operator >=(Shape? left, Shape? right) => left is null ? right is null : left.CompareTo(right) >= 0;
}
