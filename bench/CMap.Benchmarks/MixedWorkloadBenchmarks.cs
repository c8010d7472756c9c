using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using BenchmarkDotNet.Attributes;
using CMap.Bench;
using CMap.Bench.Stores;
using CMap.Benchmarks.Infrastructure;

namespace CMap.Benchmarks;

/// <summary>
/// Read/write mix over Zipf-distributed keys (s = 0.86, as in BitFaster.Caching), 16-byte keys.
/// <para>
/// One benchmark method per store, all running the same slices through the store's adapter
/// (bench/CMap.Bench.Shared/Stores, keys prepared in setup). A read copies the value into a per-thread caller buffer
/// (CMap <c>TryGet</c> into a span; ConcurrentDictionary / MemoryCache TryGetValue + copy; FASTER Read into the
/// span). A write replaces the value of an existing key (CMap Insert, dictionary indexer, MemoryCache Set, FASTER
/// Upsert) with one of 16 pre-built values of the same size. ConcurrentDictionary and MemoryCache store the
/// reference they are given, CMap and FASTER copy the bytes: that difference is part of what is measured. FASTER
/// gets one session per thread.
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

    // _keys[i] is loaded key i (load and verify only). The measured loops read _seqKeys: position p holds the
    // prepared key of op p, built from a copy allocated in sequence order, so fetching the lookup key is a prefetched
    // sequential stream rather than a cache miss charged to every store alike (see CoreOpsBenchmarks).
    private byte[][] _keys = null!;
    private StoreKey[] _seqKeys = null!;
    private byte[][] _writeValues = null!;
    private int[] _sequence = null!;
    private byte[][] _buffers = null!;
    private long[] _results = null!;
    private int _cursor;
    private WorkerGroup _workers = null!;
    private Action<int> _body = null!;

    private IStore? _store;
    private IStoreSession[] _sessions = null!;

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

    // ---------------------------------------------------------------- one method per store (the baseline is a method)

    [GlobalSetup(Target = nameof(ConcurrentDictionary_Mixed))]
    public void SetupConcurrentDictionary() => Setup(new ConcurrentDictionaryStore(ShapeOfStore()));

    [GlobalSetup(Target = nameof(CMap_Mixed))]
    public void SetupCMap() => Setup(new CMapStore(ShapeOfStore()));

    [GlobalSetup(Target = nameof(MemoryCache_Mixed))]
    public void SetupMemoryCache() => Setup(new MemoryCacheStore(ShapeOfStore()));

    [GlobalSetup(Target = nameof(Faster_Mixed))]
    public void SetupFaster() => Setup(new FasterStore(ShapeOfStore()));

    [Benchmark(Baseline = true, OperationsPerInvoke = OpsPerInvoke)]
    public long ConcurrentDictionary_Mixed() => RunBatch();

    [Benchmark(OperationsPerInvoke = OpsPerInvoke)]
    public long CMap_Mixed() => RunBatch();

    [Benchmark(OperationsPerInvoke = OpsPerInvoke)]
    public long MemoryCache_Mixed() => RunBatch();

    [Benchmark(OperationsPerInvoke = OpsPerInvoke)]
    public long Faster_Mixed() => RunBatch();

    // ---------------------------------------------------------------- setup and cleanup

    [GlobalCleanup]
    public void Cleanup()
    {
        _workers?.Dispose();
        if (_store is CMapStore cmap)
        {
            Console.WriteLine($"// CMap after run: {cmap.DescribeStatistics()}");
        }

        _store?.Dispose();
        _workers = null!;
        _store = null;
    }

    private StoreShape ShapeOfStore() => new(Shape.Entries, KeySize, Shape.ValueSize, 0x5EED_CAFE);

    private void Setup(IStore store)
    {
        _store = store;
        _sessions = new IStoreSession[Threads];
        for (int t = 0; t < Threads; t++)
        {
            _sessions[t] = store.OpenSession();
        }

        GenerateData(store);
        byte[] value = new byte[Shape.ValueSize];
        for (int i = 0; i < Shape.Entries; i++)
        {
            BenchData.FillValue(i, value);
            _sessions[0].Insert(_keys[i], value);
        }

        for (int i = 0; i < _keys.Length; i++)
        {
            if (!_sessions[0].TryGet(_keys[i], _buffers[0], out int written) || written != Shape.ValueSize)
            {
                throw new InvalidOperationException($"{store.GetType().Name}: loaded key {i} did not hit; reads would not measure hits.");
            }
        }

        _body = Slice;
        _workers = new WorkerGroup(Threads);
    }

    private void GenerateData(IStore store)
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
        var zipf = new ZipfTable(n, ZipfS);
        double writeProbability = (100.0 - ReadPercent) / 100.0;
        _sequence = new int[SequenceLength];
        for (int i = 0; i < SequenceLength; i++)
        {
            int key = rankToKey[zipf.Sample(rng.NextDouble())];
            _sequence[i] = rng.NextDouble() < writeProbability ? key | WriteFlag : key;
        }

        _seqKeys = new StoreKey[SequenceLength];
        for (int i = 0; i < SequenceLength; i++)
        {
            _seqKeys[i] = store.PrepareKey((byte[])_keys[_sequence[i] & int.MaxValue].Clone());
        }

        _buffers = new byte[Threads][];
        for (int t = 0; t < Threads; t++)
        {
            _buffers[t] = GC.AllocateArray<byte>(valueSize, pinned: true);
        }

        _results = new long[Threads * ResultStride];
        _cursor = 0;
    }

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
    private (int Start, int End) Range(int id, int threads)
    {
        int start = _cursor + (int)((long)OpsPerInvoke * id / threads);
        int end = _cursor + (int)((long)OpsPerInvoke * (id + 1) / threads);
        return (start, end);
    }

    private void Slice(int id)
    {
        (int start, int end) = Range(id, Threads);
        IStoreSession s = _sessions[id];
        StoreKey[] keys = _seqKeys;
        byte[][] values = _writeValues;
        int[] seq = _sequence;
        Span<byte> buffer = _buffers[id];
        long sum = 0;
        for (int p = start; p < end; p++)
        {
            if (seq[p] < 0)
            {
                s.Insert(in keys[p], values[p & (WriteValueCount - 1)]);
                sum++;
            }
            else if (s.TryGet(in keys[p], buffer, out int written))
            {
                sum += written;
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
