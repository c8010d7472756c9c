using System;
using System.Collections.Generic;
using System.Globalization;
using System.Numerics;
using FASTER.core;

namespace CMap.Compare;

/// <summary>
/// FASTER KV with <see cref="SpanByte"/> keys and values, kept entirely in memory: the log sits on a null device
/// with room for four times the loaded records, so churn never evicts a page and no read goes to storage.
/// </summary>
internal sealed unsafe class FasterStore : IStore
{
    private const int PageSizeBits = 22;
    private const int MinMemorySizeBits = 26;

    private readonly NullDevice _device;
    private readonly FasterKV<SpanByte, SpanByte> _kv;
    private readonly List<Session> _sessions = [];
    private readonly long _indexBytes;

    public FasterStore(int entries, int keySize, int valueSize)
    {
        // A record: 8-byte header, then key and value, each behind a 4-byte length and 8-byte aligned.
        long recordBytes = sizeof(long) + Align8(sizeof(int) + keySize) + Align8(sizeof(int) + valueSize);
        int memorySizeBits = Math.Max(MinMemorySizeBits, BitOperations.Log2(BitOperations.RoundUpToPowerOf2((ulong)(recordBytes * entries * 4))));

        // FASTER's own YCSB benchmark sizes the index at one 64-byte bucket (7 slots) per two keys.
        long buckets = (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1024, entries / 2));
        _indexBytes = buckets * 64;

        _device = new NullDevice();
        _kv = new FasterKV<SpanByte, SpanByte>(
            buckets,
            new LogSettings { LogDevice = _device, PageSizeBits = PageSizeBits, MemorySizeBits = memorySizeBits });
        Configuration = string.Create(
            CultureInfo.InvariantCulture,
            $"FasterKV<SpanByte, SpanByte> 2.6.5, SpanByteFunctions, one session per thread, null device, log memory {Format.Bytes(1L << memorySizeBits)} (4 MiB pages, allocated as the log grows), index {buckets} buckets ({Format.Bytes(_indexBytes)})");
    }

    public string Configuration { get; }

    public IStoreSession OpenSession()
    {
        var session = new Session(_kv.For(new SpanByteFunctions<Empty>()).NewSession<SpanByteFunctions<Empty>>());
        lock (_sessions)
        {
            _sessions.Add(session);
        }

        return session;
    }

    public StoreFootprint Footprint()
    {
        long logBytes = _kv.Log.TailAddress - _kv.Log.BeginAddress;
        return new StoreFootprint(
            null,
            string.Create(CultureInfo.InvariantCulture, $"log {Format.Bytes(logBytes)} in {_kv.Log.AllocatedPageCount} pages on the pinned object heap, index {Format.Bytes(_indexBytes)}, {_kv.OverflowBucketCount} overflow buckets"));
    }

    public void Dispose()
    {
        foreach (Session s in _sessions)
        {
            s.Dispose();
        }

        _kv.Dispose();
        _device.Dispose();
    }

    private static long Align8(long n) => (n + 7) & ~7L;

    private sealed class Session(ClientSession<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty, SpanByteFunctions<Empty>> session)
        : IStoreSession, IDisposable
    {
        public void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            fixed (byte* k = key)
            fixed (byte* v = value)
            {
                var keyBytes = SpanByte.FromPointer(k, key.Length);
                var valueBytes = SpanByte.FromPointer(v, value.Length);
                session.Upsert(ref keyBytes, ref valueBytes);
            }
        }

        public bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written)
        {
            // An empty span pins to null, which FASTER would take for "no buffer": point it somewhere valid.
            byte none = 0;
            fixed (byte* k = key)
            fixed (byte* d = destination)
            {
                var keyBytes = SpanByte.FromPointer(k, key.Length);
                var output = new SpanByteAndMemory(d == null ? &none : d, destination.Length);
                Status status = session.Read(ref keyBytes, ref output);
                if (status.IsPending)
                {
                    throw new InvalidOperationException("A FASTER read went to storage: the log no longer fits in memory.");
                }

                if (!status.Found)
                {
                    written = 0;
                    return false;
                }

                written = output.Length;
                if (output.IsSpanByte)
                {
                    return true;
                }

                // The value did not fit: FASTER copied it into pooled memory instead.
                output.Memory.Dispose();
                return false;
            }
        }

        public void Delete(ReadOnlySpan<byte> key)
        {
            fixed (byte* k = key)
            {
                var keyBytes = SpanByte.FromPointer(k, key.Length);
                session.Delete(ref keyBytes);
            }
        }

        public void Dispose() => session.Dispose();
    }
}
