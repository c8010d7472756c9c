using System;
using System.Collections.Generic;
using System.Globalization;
using System.Numerics;
using System.Threading;
using FASTER.core;

namespace CMap.Bench.Stores;

/// <summary>
/// FASTER KV (Microsoft.FASTER.Core 2.6.5) with <see cref="SpanByte"/> keys and values, kept in memory: the log sits on
/// a null device with room for four times the records the store is sized for, so churn does not evict the loaded
/// records and no read of them goes to storage. Should one ever go pending (a record that did fall off the in-memory
/// log), it is completed on the spot and counted in <see cref="Footprint"/>.
/// </summary>
[Store(Name, 3, "#e76f51")]
public sealed class FasterStore : IStore
{
    public const string Name = "faster";

    private const int MinPageSizeBits = 22;
    private const int MinMemorySizeBits = 26;

    private readonly NullDevice _device;
    private readonly FasterKV<SpanByte, SpanByte> _kv;
    private readonly List<Session> _sessions = [];
    private readonly long _indexBytes;
    private readonly int _scratchBytes;
    private long _pendingOperations;

    public FasterStore(StoreShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);

        // A record: 8-byte header, then key and value, each behind a 4-byte length and 8-byte aligned.
        long recordBytes = sizeof(long) + Align8(sizeof(int) + shape.KeySize) + Align8(sizeof(int) + shape.ValueSize);
        int pageSizeBits = Math.Max(MinPageSizeBits, Log2Ceiling(recordBytes) + 2);
        int memorySizeBits = Math.Max(Math.Max(MinMemorySizeBits, pageSizeBits + 2), Log2Ceiling(recordBytes * Math.Max(1, shape.Capacity) * 4));

        // FASTER's own YCSB benchmark sizes the index at one 64-byte bucket (7 slots) per two keys.
        long buckets = (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1024, shape.Capacity / 2));
        _indexBytes = buckets * 64;
        _scratchBytes = Math.Max(64, shape.ValueSize);

        _device = new NullDevice();
        _kv = new FasterKV<SpanByte, SpanByte>(
            buckets,
            new LogSettings
            {
                LogDevice = _device,
                PageSizeBits = pageSizeBits,
                MemorySizeBits = memorySizeBits,
                SegmentSizeBits = Math.Max(30, pageSizeBits),
            });
        Configuration = string.Create(
            CultureInfo.InvariantCulture,
            $"FasterKV<SpanByte, SpanByte> 2.6.5, SpanByteFunctions, one session per thread, null device, log memory {Format.Bytes(1L << memorySizeBits)} ({Format.Bytes(1L << pageSizeBits)} pages, allocated as the log grows), index {buckets} buckets ({Format.Bytes(_indexBytes)})");
    }

    public string Configuration { get; }

    public long? Count => null;

    public IStoreSession OpenSession()
    {
        var session = new Session(this, _kv.For(new SpanByteFunctions<Empty>()).NewSession<SpanByteFunctions<Empty>>());
        lock (_sessions)
        {
            _sessions.Add(session);
        }

        return session;
    }

    public StoreKey PrepareKey(byte[] key) => new(key);

    public StoreFootprint Footprint()
    {
        long logBytes = _kv.Log.TailAddress - _kv.Log.BeginAddress;
        return new StoreFootprint(
            null,
            string.Create(CultureInfo.InvariantCulture, $"log {Format.Bytes(logBytes)} in {_kv.Log.AllocatedPageCount} pages on the pinned object heap, index {Format.Bytes(_indexBytes)}, {_kv.OverflowBucketCount} overflow buckets, {Interlocked.Read(ref _pendingOperations)} operations went pending"));
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

    private static int Log2Ceiling(long n) => 64 - BitOperations.LeadingZeroCount((ulong)Math.Max(1, n - 1));

    private sealed unsafe class Session(FasterStore store, ClientSession<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty, SpanByteFunctions<Empty>> session)
        : IStoreSession, IDisposable
    {
        // GetOrInsert reads into this (pinned, so FASTER may write to it by pointer) before deciding to insert.
        private readonly byte[] _scratch = GC.AllocateArray<byte>(store._scratchBytes, pinned: true);

        public void Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
        {
            fixed (byte* k = key)
            fixed (byte* v = value)
            {
                var keyBytes = SpanByte.FromPointer(k, key.Length);
                var valueBytes = SpanByte.FromPointer(v, value.Length);
                if (session.Upsert(ref keyBytes, ref valueBytes).IsPending)
                {
                    CompletePending();
                }
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
                    status = CompletePendingRead(ref output);
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
                if (session.Delete(ref keyBytes).IsPending)
                {
                    CompletePending();
                }
            }
        }

        public void Insert(in StoreKey key, byte[] value) => Insert(key.Bytes, value);

        public bool TryGet(in StoreKey key, Span<byte> destination, out int written) => TryGet(key.Bytes, destination, out written);

        public void Delete(in StoreKey key) => Delete(key.Bytes);

        /// <summary>
        /// A read, then an upsert only when it missed: FASTER has no atomic get-or-add for <see cref="SpanByte"/>
        /// values short of custom read-modify-write functions.
        /// </summary>
        public int GetOrInsert(in StoreKey key, byte[] value)
        {
            if (TryGet(key.Bytes, _scratch, out int written) || written > 0)
            {
                return written;
            }

            Insert(key.Bytes, value);
            return value.Length;
        }

        public void Dispose() => session.Dispose();

        private void CompletePending()
        {
            Interlocked.Increment(ref store._pendingOperations);
            session.CompletePending(wait: true);
        }

        private Status CompletePendingRead(ref SpanByteAndMemory output)
        {
            Interlocked.Increment(ref store._pendingOperations);
            session.CompletePendingWithOutputs(out CompletedOutputIterator<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty> completed, wait: true);
            Status status = default;
            using (completed)
            {
                while (completed.Next())
                {
                    ref CompletedOutput<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty> c = ref completed.Current;
                    output = c.Output;
                    status = c.Status;
                }
            }

            return status;
        }
    }
}
