using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Attributes;
using CMap.Benchmarks.Infrastructure;

namespace CMap.Benchmarks;

/// <summary>The cache features a <see cref="FeatureCostBenchmarks"/> map has on.</summary>
public enum FeatureSet
{
    /// <summary>No budget, entries without expiry: the plain map.</summary>
    Off,

    /// <summary>A byte budget large enough that nothing is evicted; entries without expiry. Reads set access marks.</summary>
    Budget,

    /// <summary>The budget, and every entry with an absolute expiry a year away (each read checks its deadline).</summary>
    BudgetAbsoluteExpiry,

    /// <summary>The budget, and every entry with a one-day sliding window (each read checks, and at most once a second records, its access).</summary>
    BudgetSlidingExpiry,
}

/// <summary>
/// What the cache features cost a Get hit (<c>TryGet</c> into a span, 16-byte keys, 100-byte values, one thread): a
/// map with them off is the baseline, so the Ratio column is features on ÷ off (the targets: ≤ 1.05 without
/// expiry, ≤ 1.3 with). ConcurrentDictionary is not a column here: CoreOpsBenchmarks compares the same hit against it.
/// <para>
/// As in <see cref="CoreOpsBenchmarks"/>: every invocation reads <see cref="Batch"/> keys (OperationsPerInvoke) of a
/// sequence precomputed in [GlobalSetup] (concatenated random permutations of the loaded keys, each a copy, stored in
/// walk order), the cursor carries on across invocations, and every map gets the same <c>InitialCapacity</c> and seed
/// (so the same shard count). [GlobalSetup] checks every key reads back its value; [GlobalCleanup] that nothing was
/// evicted or expired. CMAP_BENCH_ENTRIES (e.g. "1000") narrows the entry counts, as for CoreOpsBenchmarks.
/// </para>
/// </summary>
[MemoryDiagnoser]
public class FeatureCostBenchmarks
{
    public const int Batch = 1024;
    public const int KeySize = 16;
    public const int ValueSize = 100;

    private const ulong KeySalt = 0xC3A5C85C97CB3127ul;
    private const ulong MapSeed = 0x5EED_CAFE;
    private const int OrderSeed = 20_251_201;

    /// <summary>A budget at least this large, and at least <see cref="BudgetBytesPerEntry"/> per entry: far above what the entries take.</summary>
    private const long MinBudgetBytes = 256L << 20;
    private const long BudgetBytesPerEntry = 1024;

    private static readonly TimeSpan s_absoluteTtl = TimeSpan.FromDays(365);
    private static readonly TimeSpan s_slidingWindow = TimeSpan.FromDays(1);

    private ByteMap? _map;
    private FeatureSet _features;
    private byte[][] _keys = null!;
    private byte[][] _seqKeys = null!;
    private byte[] _buffer = null!;
    private int _pos;

    [ParamsSource(nameof(EntryCounts))]
    public int Entries { get; set; }

    /// <summary>1 K and 1 M entries, or the list in CMAP_BENCH_ENTRIES.</summary>
    public static IEnumerable<int> EntryCounts() => CoreOpsBenchmarks.EntryCounts();

    [GlobalSetup(Target = nameof(FeaturesOff))]
    public void SetupOff() => Setup(FeatureSet.Off);

    [GlobalSetup(Target = nameof(BudgetNoExpiry))]
    public void SetupBudget() => Setup(FeatureSet.Budget);

    [GlobalSetup(Target = nameof(BudgetAbsoluteExpiry))]
    public void SetupAbsolute() => Setup(FeatureSet.BudgetAbsoluteExpiry);

    [GlobalSetup(Target = nameof(BudgetSlidingExpiry))]
    public void SetupSliding() => Setup(FeatureSet.BudgetSlidingExpiry);

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public long FeaturesOff() => GetBatch();

    [Benchmark(OperationsPerInvoke = Batch)]
    public long BudgetNoExpiry() => GetBatch();

    [Benchmark(OperationsPerInvoke = Batch)]
    public long BudgetAbsoluteExpiry() => GetBatch();

    [Benchmark(OperationsPerInvoke = Batch)]
    public long BudgetSlidingExpiry() => GetBatch();

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_map is null)
        {
            return;
        }

        CMapStatistics s = _map.GetStatistics();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"// CMap {_features} after run: {_map.ShardCount} shards, Count={s.Count:N0} Native={s.NativeBytes:N0} MaxBytes={s.MaxBytes:N0} Evictions={s.Evictions:N0} Expirations={s.Expirations:N0} Hits={s.Hits:N0} Misses={s.Misses:N0}"));
        if (s.Evictions != 0 || s.Expirations != 0 || s.Count != Entries)
        {
            throw new InvalidOperationException($"The {_features} map evicted or expired entries ({s.Evictions} evicted, {s.Expirations} expired, {s.Count} left of {Entries}); its hits would not all be hits.");
        }

        _map.Dispose();
        _map = null;
    }

    private void Setup(FeatureSet features)
    {
        _features = features;
        long? budget = features == FeatureSet.Off ? null : Math.Max(MinBudgetBytes, Entries * BudgetBytesPerEntry);
        _map = new ByteMap(new CMapConfig { InitialCapacity = Entries + Batch, Seed = MapSeed, MaxBytes = budget });
        CMapEntryOptions options = features switch
        {
            FeatureSet.BudgetAbsoluteExpiry => CMapEntryOptions.ExpireAfter(s_absoluteTtl),
            FeatureSet.BudgetSlidingExpiry => CMapEntryOptions.Sliding(s_slidingWindow),
            _ => default,
        };

        _keys = BenchData.Keys(0, Entries, KeySize, KeySalt);
        Span<byte> value = stackalloc byte[ValueSize];
        for (int i = 0; i < Entries; i++)
        {
            BenchData.FillValue(i, value);
            _map.Insert(_keys[i], value, options);
        }

        int[] order = BenchData.PermutationSequence(Entries, BenchData.RoundUp(Entries, Batch), OrderSeed);
        _seqKeys = order.Select(i => (byte[])_keys[i].Clone()).ToArray();
        _buffer = GC.AllocateArray<byte>(ValueSize * 2, pinned: true);
        _pos = 0;
        Verify();
    }

    /// <summary>Every loaded key must read back its value.</summary>
    private void Verify()
    {
        byte[] expected = new byte[ValueSize];
        for (int i = 0; i < _keys.Length; i++)
        {
            BenchData.FillValue(i, expected);
            if (!_map!.TryGet(_keys[i], _buffer, out int written) || !_buffer.AsSpan(0, written).SequenceEqual(expected))
            {
                throw new InvalidOperationException($"{_features}: loaded key {i} did not read back its value; hits would not measure hits.");
            }
        }
    }

    private long GetBatch()
    {
        ByteMap map = _map!;
        byte[][] keys = _seqKeys;
        Span<byte> buffer = _buffer;
        int p = _pos;
        int next = p + Batch;
        _pos = next == keys.Length ? 0 : next;
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            if (map.TryGet(keys[p + i], buffer, out int written))
            {
                sum += written;
            }
        }

        return sum;
    }
}
