using System;
using System.Collections.Generic;
using System.Numerics;
using FASTER.core;

namespace CMap.Benchmarks.Infrastructure;

/// <summary>
/// <c>FasterKV&lt;SpanByte, SpanByte&gt;</c> (Microsoft.FASTER.Core 2.6.5) configured as a pure in-memory store:
/// a <see cref="NullDevice"/> log and an in-memory log region sized to hold every loaded record at least twice,
/// so with the default mutable fraction (0.9) all loaded records stay in the mutable region: overwrites of the
/// same length are done in place, and no read of a loaded key ever goes to the (null) device.
/// Churn benchmarks (insert of fresh keys) append records; once the log outgrows memory, the oldest pages are
/// dropped to the null device. That never touches the loaded keys within the sizes used here
/// (see <see cref="FasterStore(long, int, int)"/>).
/// </summary>
internal sealed class FasterStore : IDisposable
{
    private readonly NullDevice _device;
    private readonly FasterKV<SpanByte, SpanByte> _kv;
    private readonly List<FasterSession> _sessions = [];

    /// <param name="entries">Keys the store will be loaded with.</param>
    /// <param name="keySize">Key bytes.</param>
    /// <param name="valueSize">Value bytes.</param>
    public FasterStore(long entries, int keySize, int valueSize)
    {
        // A SpanByte record: 8-byte RecordInfo, then key and value each with a 4-byte length prefix, 8-aligned.
        long record = 8 + Align8(4 + keySize) + Align8(4 + valueSize);
        int pageBits = Math.Max(22, Log2Ceiling(record) + 2);
        int memoryBits = Math.Max(pageBits + 3, Log2Ceiling(entries * record) + 1);
        long buckets = Math.Max(1L << 10, (long)BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1, entries / 2)));
        _device = new NullDevice();
        _kv = new FasterKV<SpanByte, SpanByte>(
            buckets,
            new LogSettings
            {
                LogDevice = _device,
                PageSizeBits = pageBits,
                MemorySizeBits = memoryBits,
                SegmentSizeBits = Math.Max(30, pageBits),
            });
    }

    /// <summary>A new session. A session is single-threaded: give each thread its own.</summary>
    public FasterSession NewSession()
    {
        var functions = new SpanByteFunctions<Empty>();
        var s = new FasterSession(_kv.For(functions).NewSession<SpanByteFunctions<Empty>>());
        _sessions.Add(s);
        return s;
    }

    public void Dispose()
    {
        foreach (FasterSession s in _sessions)
        {
            s.Dispose();
        }

        _kv.Dispose();
        _device.Dispose();
    }

    private static long Align8(long n) => (n + 7) & ~7L;

    private static int Log2Ceiling(long n) => 64 - BitOperations.LeadingZeroCount((ulong)Math.Max(1, n - 1));
}

/// <summary>One FASTER client session with byte-array helpers (keys and values are pinned with <c>fixed</c>).</summary>
internal sealed unsafe class FasterSession : IDisposable
{
    private readonly ClientSession<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty, SpanByteFunctions<Empty>> _session;

    internal FasterSession(ClientSession<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty, SpanByteFunctions<Empty>> session) =>
        _session = session;

    /// <summary>
    /// Reads <paramref name="key"/>'s value into <paramref name="pinnedOutput"/>, which must be a pinned array
    /// (<see cref="GC.AllocateArray{T}(int, bool)"/> with pinned: true) large enough for the value.
    /// Returns the value length, or -1 when the key is absent.
    /// </summary>
    public int Read(byte[] key, byte[] pinnedOutput)
    {
        fixed (byte* k = key)
        fixed (byte* o = pinnedOutput)
        {
            var sk = SpanByte.FromPointer(k, key.Length);
            var output = new SpanByteAndMemory(SpanByte.FromPointer(o, pinnedOutput.Length));
            Status status = _session.Read(ref sk, ref output);
            if (status.IsPending)
            {
                return CompletePendingRead(ref output);
            }

            return ResultOf(status, ref output);
        }
    }

    /// <summary>Adds or replaces (FASTER Upsert: in place when the record is in the mutable region and fits).</summary>
    public void Upsert(byte[] key, byte[] value)
    {
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            var sk = SpanByte.FromPointer(k, key.Length);
            var sv = SpanByte.FromPointer(v, value.Length);
            Status status = _session.Upsert(ref sk, ref sv);
            if (status.IsPending)
            {
                _session.CompletePending(wait: true);
            }
        }
    }

    /// <summary>Deletes (FASTER writes a tombstone: in place for a mutable record, appended otherwise).</summary>
    public bool Delete(byte[] key)
    {
        fixed (byte* k = key)
        {
            var sk = SpanByte.FromPointer(k, key.Length);
            Status status = _session.Delete(ref sk);
            if (status.IsPending)
            {
                _session.CompletePending(wait: true);
            }

            return !status.NotFound;
        }
    }

    public void Dispose() => _session.Dispose();

    private static int ResultOf(Status status, ref SpanByteAndMemory output)
    {
        if (!status.Found)
        {
            return -1;
        }

        int length = output.Length;
        if (!output.IsSpanByte)
        {
            // The value did not fit the caller's buffer and FASTER rented memory for it; give it back.
            output.Memory.Dispose();
        }

        return length;
    }

    private int CompletePendingRead(ref SpanByteAndMemory output)
    {
        _session.CompletePendingWithOutputs(out CompletedOutputIterator<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty> completed, wait: true);
        int result = -1;
        using (completed)
        {
            while (completed.Next())
            {
                ref CompletedOutput<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty> c = ref completed.Current;
                output = c.Output;
                result = ResultOf(c.Status, ref output);
            }
        }

        return result;
    }
}
