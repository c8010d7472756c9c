using System;
using System.Collections.Generic;
using CMap.Bench;

namespace CMap.HitRatio.Traces;

/// <summary>
/// Builds the traces of a run from its seed. The Zipf traces do not depend on the cache size (each is built once);
/// the scan and loop traces do (a scan totals a fraction of the cache, a loop spans a multiple of it).
/// </summary>
internal sealed class TraceBuilder(HitRatioOptions options, KeySpace keys)
{
    private readonly Dictionary<double, Trace> _zipf = [];
    private long _universeBytes = -1;

    /// <summary>Key + value bytes of every key of the universe (0..keys-1): what the loop's cache sizes are a share of.</summary>
    public long UniverseBytes
    {
        get
        {
            if (_universeBytes < 0)
            {
                long sum = 0;
                for (int id = 0; id < options.Keys; id++)
                {
                    sum += keys.EntryBytes(id);
                }

                _universeBytes = sum;
            }

            return _universeBytes;
        }
    }

    /// <summary>The bytes cache sizes are percentages of: the Zipf trace's distinct bytes, or the universe's for the loop.</summary>
    public long SizeBasis(TraceSpec spec) => spec.Kind == TraceKind.Loop ? UniverseBytes : Zipf(spec.Skew).DistinctBytes;

    public Trace Build(TraceSpec spec, long cacheBytes) => spec.Kind switch
    {
        TraceKind.Zipf => Zipf(spec.Skew),
        TraceKind.ZipfScan => WithScans(spec, Zipf(spec.Skew), cacheBytes),
        _ => Loop(cacheBytes),
    };

    private Trace Zipf(double skew)
    {
        if (_zipf.TryGetValue(skew, out Trace? cached))
        {
            return cached;
        }

        var table = new ZipfTable(options.Keys, skew);
        var random = new SplitMix64(options.Seed ^ SplitMix64.Mix(BitConverter.DoubleToUInt64Bits(skew)));
        int n = options.Requests;
        int[] requests = GC.AllocateUninitializedArray<int>(n);
        bool[] seen = new bool[options.Keys];
        long distinct = 0, bytes = 0;
        for (int i = 0; i < n; i++)
        {
            int id = table.Sample(random.NextDouble());
            requests[i] = id;
            if (!seen[id])
            {
                seen[id] = true;
                distinct++;
                bytes += keys.EntryBytes(id);
            }
        }

        var trace = new Trace(
            new TraceSpec(TraceKind.Zipf, skew).Name,
            Format.Invariant($"Zipf s = {skew} over {Format.Count(options.Keys)} keys, {Format.Count(n)} requests"),
            requests,
            Warmup(n),
            distinct,
            bytes);
        _zipf[skew] = trace;
        return trace;
    }

    /// <summary>
    /// The Zipf trace with, after every <see cref="HitRatioOptions.ScanEvery"/> of its requests, a scan: keys never
    /// requested before or after (numbers from <see cref="HitRatioOptions.Keys"/> up) totalling
    /// <see cref="HitRatioOptions.ScanFraction"/> of the cache's bytes.
    /// </summary>
    private Trace WithScans(TraceSpec spec, Trace zipf, long cacheBytes)
    {
        long scanBytes = (long)(cacheBytes * options.ScanFraction);
        int[] source = zipf.Requests;
        long expected = source.Length + ((long)(source.Length / options.ScanEvery) * EstimateScanKeys(scanBytes));
        var requests = new List<int>((int)Math.Min(expected, Array.MaxLength));
        int next = options.Keys;
        long scanKeys = 0, scanBytesTotal = 0;
        for (int i = 0; i < source.Length; i++)
        {
            requests.Add(source[i]);
            if ((i + 1) % options.ScanEvery == 0)
            {
                for (long b = 0; b < scanBytes; next++)
                {
                    requests.Add(next);
                    long e = keys.EntryBytes(next);
                    b += e;
                    scanBytesTotal += e;
                    scanKeys++;
                }
            }
        }

        int[] all = requests.ToArray();
        return new Trace(
            spec.Name,
            Format.Invariant($"{zipf.Description}, plus a scan of one-time keys totalling {options.ScanFraction:0.##} × the cache ({Format.Bytes(scanBytes)}) after every {Format.Count(options.ScanEvery)} of them ({Format.Count(scanKeys)} scan requests)"),
            all,
            Warmup(all.Length),
            zipf.DistinctKeys + scanKeys,
            zipf.DistinctBytes + scanBytesTotal);
    }

    /// <summary>Keys 0..K-1 cycled in order, K the fewest keys whose bytes reach <see cref="HitRatioOptions.LoopFactor"/> × the cache.</summary>
    private Trace Loop(long cacheBytes)
    {
        long target = (long)(cacheBytes * options.LoopFactor);
        long bytes = 0;
        int loopKeys = 0;
        while (bytes < target)
        {
            bytes += keys.EntryBytes(loopKeys++);
        }

        int n = options.Requests;
        int[] requests = GC.AllocateUninitializedArray<int>(n);
        for (int i = 0, id = 0; i < n; i++)
        {
            requests[i] = id;
            id = id + 1 == loopKeys ? 0 : id + 1;
        }

        return new Trace(
            TraceSpec.LoopName,
            Format.Invariant($"{Format.Count(loopKeys)} keys ({Format.Bytes(bytes)}, {options.LoopFactor:0.##} × the cache) cycled in order, {Format.Count(n)} requests"),
            requests,
            Warmup(n),
            loopKeys,
            bytes);
    }

    private int Warmup(int requests) => (int)(requests * options.WarmupFraction);

    /// <summary>A rough count of the keys of one scan (for the list's initial capacity only).</summary>
    private long EstimateScanKeys(long scanBytes) => scanBytes / (KeySpace.KeySize + Math.Max(1, (keys.MinValueSize + keys.MaxValueSize) / 8));
}
