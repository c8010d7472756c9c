using System;
using BenchmarkDotNet.Attributes;
using CMap.Bench.Stores;
using CMap.Benchmarks.Infrastructure;

namespace CMap.Benchmarks;

/// <summary>The single-threaded operations of <see cref="LargeValueBenchmarks"/>.</summary>
public enum LargeValueOperation
{
    /// <summary>Insert over a random loaded key with another 1 MiB value: the store takes a copy of the caller's bytes.</summary>
    InsertOverwrite,

    /// <summary>Lookup of a random loaded key, its 1 MiB value copied into a reused caller buffer.</summary>
    GetHit,
}

/// <summary>
/// Large values: <see cref="Entries"/> entries of 1 MiB under 16-byte keys, one thread, random keys from a fixed
/// seed. Every store is given the value as a span (the bytes of a request buffer) and must keep its own copy, so
/// ConcurrentDictionary allocates a 1 MiB array per insert (the large-object heap) and CMap copies into a block of
/// its own; a read copies the value out into a caller buffer. Bytes per second = 1 MiB ÷ the time per operation.
/// <para>
/// <see cref="MemcpyReference"/> is the machine's ceiling: a plain copy of 1 MiB between two resident buffers,
/// the same source and destination every time (not a store: its ratio shows how close a store comes to the copy alone).
/// </para>
/// </summary>
[MemoryDiagnoser]
public class LargeValueBenchmarks
{
    /// <summary>Operations per invocation.</summary>
    public const int Batch = 16;

    public const int KeySize = 16;
    public const int ValueSize = 1 << 20;
    public const int Entries = 2_000;

    private const ulong KeySalt = 0x9E37_79B9_7F4A_7C15ul;
    private const int OrderSeed = 20_261_201;
    private const int ValueVariants = 4;
    private const int SequenceLength = 1 << 14;

    private IStore? _store;
    private IStoreSession _session = null!;
    private byte[][] _keys = null!;
    private int[] _sequence = null!;
    private byte[][] _values = null!;
    private byte[] _buffer = null!;
    private int _pos;

    [ParamsAllValues]
    public LargeValueOperation Operation { get; set; }

    [GlobalSetup(Target = nameof(ConcurrentDictionary))]
    public void SetupConcurrentDictionary() => Setup(new ConcurrentDictionaryStore(Shape()));

    [GlobalSetup(Target = nameof(CMap))]
    public void SetupCMap() => Setup(new CMapStore(Shape()));

    [GlobalSetup(Target = nameof(MemcpyReference))]
    public void SetupMemcpy()
    {
        _values = [BenchData.Value(1, ValueSize)];
        _buffer = new byte[ValueSize];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public long ConcurrentDictionary() => Run();

    [Benchmark(OperationsPerInvoke = Batch)]
    public long CMap() => Run();

    [Benchmark(OperationsPerInvoke = Batch)]
    public long MemcpyReference()
    {
        long sum = 0;
        for (int i = 0; i < Batch; i++)
        {
            _values[0].AsSpan().CopyTo(_buffer);
            sum += _buffer[i];
        }

        return sum;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_store is CMapStore cmap)
        {
            Console.WriteLine($"// CMap after run: {cmap.DescribeStatistics()}");
        }

        if (_store?.Count is long count && count != Entries)
        {
            throw new InvalidOperationException($"{_store.GetType().Name} holds {count} entries after the run; expected {Entries}.");
        }

        _store?.Dispose();
        _store = null;
    }

    private static StoreShape Shape() => new(Entries, KeySize, ValueSize, 0x1A26E);

    private void Setup(IStore store)
    {
        _store = store;
        _session = store.OpenSession();
        _keys = BenchData.Keys(0, Entries, KeySize, KeySalt);
        _values = new byte[ValueVariants][];
        for (int i = 0; i < ValueVariants; i++)
        {
            _values[i] = BenchData.Value(i, ValueSize);
        }

        var random = new Random(OrderSeed);
        _sequence = new int[SequenceLength];
        for (int i = 0; i < _sequence.Length; i++)
        {
            _sequence[i] = random.Next(Entries);
        }

        _buffer = new byte[ValueSize];
        for (int i = 0; i < Entries; i++)
        {
            _session.Insert(_keys[i], _values[i % ValueVariants]);
        }

        // Every key must read back a full value, or hits would not measure hits.
        for (int i = 0; i < Entries; i++)
        {
            if (!_session.TryGet(_keys[i], _buffer, out int written) || written != ValueSize || !_buffer.AsSpan().SequenceEqual(_values[i % ValueVariants]))
            {
                throw new InvalidOperationException($"{store.GetType().Name}: key {i} did not read back its value.");
            }
        }

        _pos = 0;
    }

    private long Run()
    {
        IStoreSession s = _session;
        long sum = 0;
        int p = _pos;
        for (int i = 0; i < Batch; i++)
        {
            byte[] key = _keys[_sequence[(p + i) & (SequenceLength - 1)]];
            if (Operation == LargeValueOperation.InsertOverwrite)
            {
                s.Insert(key, (ReadOnlySpan<byte>)_values[(p + i) & (ValueVariants - 1)]);
            }
            else if (s.TryGet(key, _buffer, out int written))
            {
                sum += written;
            }
        }

        _pos = (p + Batch) & (SequenceLength - 1);
        return sum;
    }
}
