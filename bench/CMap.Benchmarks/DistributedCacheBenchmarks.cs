using System;
using System.Buffers;
using BenchmarkDotNet.Attributes;
using CMap.Extensions.Caching;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace CMap.Benchmarks;

/// <summary>
/// What the IDistributedCache adapter costs: Get and Set of a 100-byte value under a 16-character string key, one
/// thread, 1 K keys, through <see cref="MemoryDistributedCache"/> (the baseline: the in-process IDistributedCache .NET
/// ships), through <see cref="CMapDistributedCache"/> (the byte[] and the buffer paths), and as a direct
/// <see cref="ByteMap"/> call with the key already in UTF-8 (what the adapter adds is the key's encoding and the
/// options' mapping). The buffer path should allocate 0 B.
/// </summary>
[MemoryDiagnoser]
public class DistributedCacheBenchmarks
{
    private const int Keys = 1024;

    private static readonly DistributedCacheEntryOptions s_options = new();

    private readonly byte[] _value = new byte[100];
    private readonly ArrayBufferWriter<byte> _writer = new(256);
    private readonly byte[] _span = new byte[256];
    private string[] _keys = null!;
    private byte[][] _utf8Keys = null!;
    private MemoryDistributedCache _memory = null!;
    private CMapDistributedCache _adapter = null!;
    private ByteMap _direct = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        new Random(1).NextBytes(_value);
        _keys = new string[Keys];
        _utf8Keys = new byte[Keys][];
        for (int i = 0; i < Keys; i++)
        {
            _keys[i] = "session:" + i.ToString("D8", System.Globalization.CultureInfo.InvariantCulture);
            _utf8Keys[i] = System.Text.Encoding.UTF8.GetBytes(_keys[i]);
        }

        _memory = new MemoryDistributedCache(Options.Create(new MemoryDistributedCacheOptions()));
        _adapter = new CMapDistributedCache(Options.Create(new CMapCacheOptions { InitialCapacity = Keys }));
        _direct = new ByteMap(new CMapConfig { InitialCapacity = Keys });
        for (int i = 0; i < Keys; i++)
        {
            _memory.Set(_keys[i], _value, s_options);
            _adapter.Set(_keys[i], _value, s_options);
            _direct.Insert(_utf8Keys[i], _value);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _adapter.Dispose();
        _direct.Dispose();
    }

    private int Next() => _next = (_next + 1) & (Keys - 1);

    [Benchmark(Baseline = true)]
    public byte[]? GetMemoryDistributedCache() => _memory.Get(_keys[Next()]);

    [Benchmark]
    public byte[]? GetAdapter() => _adapter.Get(_keys[Next()]);

    [Benchmark]
    public bool TryGetAdapterBufferPath()
    {
        _writer.ResetWrittenCount();
        return _adapter.TryGet(_keys[Next()], _writer);
    }

    [Benchmark]
    public bool TryGetDirectByteMap() => _direct.TryGet(_utf8Keys[Next()], _span, out _);

    [Benchmark]
    public void SetMemoryDistributedCache() => _memory.Set(_keys[Next()], _value, s_options);

    [Benchmark]
    public void SetAdapter() => _adapter.Set(_keys[Next()], _value, s_options);

    [Benchmark]
    public void SetAdapterBufferPath() => _adapter.Set(_keys[Next()], new ReadOnlySequence<byte>(_value), s_options);

    [Benchmark]
    public bool InsertDirectByteMap() => _direct.Insert(_utf8Keys[Next()], _value);
}
