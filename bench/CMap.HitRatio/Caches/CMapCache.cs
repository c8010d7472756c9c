using System;
using CMap.Bench;
using CMap.HitRatio.Traces;

namespace CMap.HitRatio.Caches;

/// <summary>
/// The map under test: a <see cref="ByteMap"/> with <see cref="CMapConfig.MaxBytes"/> = the budget (every native byte
/// it holds counts: chunks, index, large-value blocks, pooled memory) and otherwise default settings. It stores the
/// real value bytes. A lookup is <see cref="ByteMap.TryGet(ReadOnlySpan{byte}, Span{byte}, out int)"/> into a buffer,
/// as a cache's caller does, or with <see cref="CacheContext.ZeroCopyReads"/> <see cref="ByteMap.TryRead{TState}"/>
/// (the same read core and access mark, without the copy; the request loop then runs faster). Every hit is checked:
/// the stored value must have the key's length and begin with the key's bytes.
/// <para>
/// Statistics are sampled after every <see cref="InsertSampleInterval"/>th insert and every
/// <see cref="AccessSampleInterval"/>th request: the peak of native bytes (with the snapshot it was seen in), and the
/// means over the counted part of the trace from the latter samples.
/// </para>
/// </summary>
internal sealed class CMapCache : ISimulatedCache
{
    public const int InsertSampleInterval = 8;
    public const int AccessSampleInterval = 1024;

    private const int CheckedPrefix = 16;

    private static readonly System.Buffers.ReadOnlySpanAction<byte, HitCheck> s_check = static (value, check) => check.Check(value);

    private readonly ByteMap _map;
    private readonly KeySpace _keys;
    private readonly long _budget;
    private readonly HitCheck _hit = new();
    private readonly byte[]? _buffer;
    private long _accesses;
    private long _inserts;
    private CMapStatistics _peak;
    private bool _counting;
    private long _samples;
    private double _nativeSum;
    private double _liveSum;

    public CMapCache(CacheContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _keys = context.Keys;
        _budget = context.BudgetBytes;
        _buffer = context.ZeroCopyReads ? null : new byte[_keys.MaxValueSize];
        _map = new ByteMap(new CMapConfig { MaxBytes = _budget, Seed = context.Seed });
        Configuration = Format.Invariant($"ByteMap, MaxBytes {Format.Bytes(_budget)} ({_budget:N0} B), {_map.ShardCount} shards, default settings otherwise; reads by {(_buffer is null ? "TryRead" : "TryGet into a buffer")}");
    }

    public string Configuration { get; }

    public bool Access(int id, int valueSize)
    {
        Span<byte> key = stackalloc byte[KeySpace.KeySize];
        _keys.WriteKey(id, key);
        if ((++_accesses % AccessSampleInterval) == 0)
        {
            Sample(counted: _counting);
        }

        ReadOnlySpan<byte> value = _keys.Value(id, valueSize);
        _hit.Expect(value[..Math.Min(CheckedPrefix, valueSize)], valueSize);
        if (Read(key))
        {
            if (!_hit.Matched)
            {
                throw new InvalidOperationException(Format.Invariant($"CMap returned a wrong value for key {id}: {_hit.Length} bytes, expected {valueSize}."));
            }

            return true;
        }

        _map.Insert(key, value);
        if ((++_inserts % InsertSampleInterval) == 0)
        {
            Sample(counted: false);
        }

        return false;
    }

    /// <summary>From now on the samples count towards the means (the warm-up is over).</summary>
    public void StartCounting() => _counting = true;

    /// <summary>The map's own figures after the trace, with the sampled peak and means.</summary>
    public CMapDetail Detail()
    {
        Sample(counted: false);
        CMapStatistics s = _map.GetStatistics();
        return new CMapDetail(
            _budget,
            _map.ShardCount,
            _peak.NativeBytes / (double)_budget,
            _samples == 0 ? 0 : _nativeSum / _samples / _budget,
            _samples == 0 ? 0 : _liveSum / _samples / _budget,
            _peak,
            s);
    }

    public string Notes()
    {
        CMapDetail d = Detail();
        CMapStatistics s = d.End, p = d.AtPeak;
        return Format.Invariant(
            $"{Format.Count(s.Count)} entries, {Format.Count(s.Evictions)} evictions, native {Format.Bytes(s.NativeBytes)} (mean {d.MeanNativeRatio:0.000} × budget), live {Format.Bytes(s.LiveBytes)} (mean {d.MeanLiveRatio:0.000} × budget), slack {Format.Bytes(s.SlackBytes)}, index {Format.Bytes(s.IndexBytes)}, oversize {Format.Bytes(s.OversizeBytes)}, {Format.Count(s.CompactionPasses)} compaction passes; peak {d.PeakNativeRatio:0.000} × budget = {CMapDetail.Breakdown(p)}");
    }

    public void Dispose() => _map.Dispose();

    private bool Read(ReadOnlySpan<byte> key)
    {
        if (_buffer is null)
        {
            return _map.TryRead(key, _hit, s_check);
        }

        if (!_map.TryGet(key, _buffer, out int written))
        {
            // False with a length: the value did not fit, which no value of this trace can do.
            _hit.Length = written;
            return written != 0;
        }

        _hit.Check(_buffer.AsSpan(0, written));
        return true;
    }

    private void Sample(bool counted)
    {
        CMapStatistics s = _map.GetStatistics();
        if (s.NativeBytes > _peak.NativeBytes)
        {
            _peak = s;
        }

        if (counted)
        {
            _samples++;
            _nativeSum += s.NativeBytes;
            _liveSum += s.LiveBytes;
        }
    }

    /// <summary>The state of a checked read: what the value should be, and whether it was.</summary>
    private sealed class HitCheck
    {
        private readonly byte[] _prefix = new byte[CheckedPrefix];
        private int _prefixLength;
        private int _expectedLength;

        public bool Matched { get; private set; }

        public int Length { get; set; }

        public void Expect(ReadOnlySpan<byte> prefix, int length)
        {
            prefix.CopyTo(_prefix);
            _prefixLength = prefix.Length;
            _expectedLength = length;
            Matched = false;
            Length = -1;
        }

        public void Check(ReadOnlySpan<byte> value)
        {
            Length = value.Length;
            Matched = value.Length == _expectedLength && value[.._prefixLength].SequenceEqual(_prefix.AsSpan(0, _prefixLength));
        }
    }
}

/// <summary>CMap's own figures after one trace (see <see cref="CMapCache.Detail"/>): the statistics at the sampled peak and at the end.</summary>
internal sealed record CMapDetail(
    long BudgetBytes,
    int Shards,
    double PeakNativeRatio,
    double MeanNativeRatio,
    double MeanLiveRatio,
    CMapStatistics AtPeak,
    CMapStatistics End)
{
    /// <summary>Where native bytes were: chunks (with their dead bytes and slack), large-value blocks, index, retired bytes awaiting readers; and the live entries' bytes.</summary>
    public static string Breakdown(CMapStatistics s) => Format.Invariant(
        $"{Format.Bytes(s.NativeBytes)}: chunks {Format.Bytes(s.ChunkBytes)} (dead {Format.Bytes(s.DeadBytes)}, slack {Format.Bytes(s.SlackBytes)}), oversize {Format.Bytes(s.OversizeBytes)}, index {Format.Bytes(s.IndexBytes)}, pending retired {Format.Bytes(s.PendingRetiredBytes)}; live entries {Format.Bytes(s.LiveBytes)}, {Format.Count(s.Count)} entries");
}
