using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using CMap.Tests.Support;

namespace CMap.Tests.Linearizability;

/// <summary>The recorder's workers: their reusable buffers, and how each operation runs and is recorded.</summary>
internal sealed partial class HistoryRecorder
{
    /// <summary>A buffer writer that yields its thread before it hands out memory: the map then copies the value after the yield.</summary>
    private sealed class SlowWriter(ArrayBufferWriter<byte> inner) : IBufferWriter<byte>
    {
        public void Advance(int count) => inner.Advance(count);

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Thread.Yield();
            return inner.GetMemory(sizeHint);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Thread.Yield();
            return inner.GetSpan(sizeHint);
        }
    }

    /// <summary>A worker's buffers, reused across histories; executes one operation and turns its results into symbols.</summary>
    private sealed class Worker
    {
        private readonly RegisterStore _store;
        private readonly ByteMap _map;
        private readonly bool _expiry;
        private readonly byte[][][] _values = new byte[MaxKeys][][];
        private readonly byte[] _buffer = new byte[LargeBufferSize];
        private readonly ArrayBufferWriter<byte> _writer = new(LargeBufferSize);
        private readonly SlowWriter _slowWriter;
        private bool _slow;
        private int _readKey;
        private sbyte _readSymbol;

        public Worker(RegisterStore store, bool expiry)
        {
            _store = store;
            _map = store.Map;
            _expiry = expiry;
            _slowWriter = new SlowWriter(_writer);
            for (int k = 0; k < MaxKeys; k++)
            {
                _values[k] = new byte[RegisterModel.Symbols][];
                for (int s = 0; s < RegisterModel.Symbols; s++)
                {
                    _values[k][s] = new byte[Lengths[s]];
                }
            }
        }

        public byte[][] Keys { get; } = new byte[MaxKeys][];

        /// <summary>The history's keys and the values it may write for them (fresh arrays for keys, reused for values).</summary>
        public void Prepare(History h)
        {
            for (int k = 0; k < h.KeyCount; k++)
            {
                int keyId = h.KeyId(k);
                Keys[k] = KeyBytes(keyId);
                for (int s = 0; s < RegisterModel.Symbols; s++)
                {
                    FillValue(_values[k][s], keyId, s);
                }
            }
        }

        /// <summary>The symbol of <paramref name="bytes"/> as a value of key slot <paramref name="k"/>, or <see cref="RegisterModel.Garbage"/>.</summary>
        public sbyte Decode(ReadOnlySpan<byte> bytes, int k)
        {
            for (int s = 0; s < RegisterModel.Symbols; s++)
            {
                if (bytes.Length == Lengths[s])
                {
                    return bytes.SequenceEqual(_values[k][s]) ? (sbyte)s : RegisterModel.Garbage;
                }
            }

            return RegisterModel.Garbage;
        }

        private static sbyte SymbolOfLength(int length)
        {
            for (int s = 0; s < RegisterModel.Symbols; s++)
            {
                if (Lengths[s] == length)
                {
                    return (sbyte)s;
                }
            }

            return RegisterModel.Garbage;
        }

        /// <summary>
        /// A span form's result as a symbol: the copied bytes when <paramref name="copied"/>, else the length it
        /// reported (which must exceed the destination, or be 0 when there was no value).
        /// </summary>
        private sbyte SpanResult(bool present, int length, int destination, int k)
        {
            if (!present)
            {
                return length == 0 ? RegisterModel.Absent : RegisterModel.Garbage;
            }

            return length <= destination ? Decode(_buffer.AsSpan(0, length), k) : SymbolOfLength(length);
        }

        /// <summary>TryGet into a span: true copies (so the length fits); false reports 0 (absent) or a length past the destination.</summary>
        private sbyte TryGetResult(bool copied, int length, int destination, int k)
        {
            if (copied)
            {
                return length <= destination ? Decode(_buffer.AsSpan(0, length), k) : RegisterModel.Garbage;
            }

            return length == 0 ? RegisterModel.Absent : length > destination ? SymbolOfLength(length) : RegisterModel.Garbage;
        }

        private sbyte ArrayResult(byte[]? value, int k) => value is null ? RegisterModel.Absent : Decode(value, k);

        private sbyte WriterResult(bool present, int k) =>
            present ? Decode(_writer.WrittenSpan, k) : _writer.WrittenCount == 0 ? RegisterModel.Absent : RegisterModel.Garbage;

        /// <summary>Runs <paramref name="op"/>, timestamps it and records its results. Returns what is wrong beyond the model's reach (garbage), or null.</summary>
        public string? Execute(ref Op op)
        {
            int k = op.Key;
            ReadOnlySpan<byte> key = Keys[k];
            byte[] arg = _values[k][op.Arg];
            byte[] expected = _values[k][op.Expected];
            CMapEntryOptions options = op.Expiry switch
            {
                1 => CMapEntryOptions.ExpireAfter(TimeSpan.FromMilliseconds(op.ExpiryMillis)),
                2 => CMapEntryOptions.Sliding(TimeSpan.FromMilliseconds(op.ExpiryMillis)),
                _ => default,
            };
            int destination = op.SmallBuffer ? SmallBufferSize : LargeBufferSize;
            Span<byte> buffer = _buffer.AsSpan(0, destination);
            _writer.ResetWrittenCount();
            IBufferWriter<byte> writer = op.Slow ? _slowWriter : _writer;
            _slow = op.Slow;
            byte[]? array = null;
            bool flag = false;
            int length = 0;

            op.Call = Stopwatch.GetTimestamp();
            switch (op.Kind)
            {
                case OpKind.Insert:
                    flag = _expiry ? _map.Insert(key, arg, options) : _map.Insert(key, arg);
                    break;
                case OpKind.TryAdd:
                    flag = _expiry ? _map.TryAdd(key, arg, options) : _map.TryAdd(key, arg);
                    break;
                case OpKind.GetOrInsert:
                    array = _expiry ? _map.GetOrInsert(key, arg, options, out flag) : _map.GetOrInsert(key, arg, out flag);
                    break;
                case OpKind.GetOrInsertWriter:
                    flag = _expiry ? _map.GetOrInsert(key, arg, writer, options) : _map.GetOrInsert(key, arg, writer);
                    break;
                case OpKind.Get:
                    array = _store.Get(key);
                    break;
                case OpKind.TryGetSpan:
                    flag = _map.TryGet(key, buffer, out length);
                    break;
                case OpKind.TryGetWriter:
                    flag = _map.TryGet(key, writer);
                    break;
                case OpKind.TryGetValue:
                    flag = _map.TryGetValue(key, out array);
                    break;
                case OpKind.TryRead:
                    _readKey = k;
                    _readSymbol = RegisterModel.Garbage; // stays so if TryRead says found without calling back
                    flag = _map.TryRead(key, this, static (span, w) =>
                    {
                        if (w._slow)
                        {
                            Thread.Yield(); // then read the span: it must still hold the value [E2]
                        }

                        w._readSymbol = w.Decode(span, w._readKey);
                    });
                    break;
                case OpKind.ContainsKey:
                    flag = _map.ContainsKey(key);
                    break;
                case OpKind.Refresh:
                    flag = _map.Refresh(key);
                    break;
                case OpKind.Delete:
                    flag = _store.Delete(key);
                    break;
                case OpKind.GetAndDelete:
                    array = _map.GetAndDelete(key);
                    break;
                case OpKind.TryGetAndDeleteSpan:
                    flag = _map.TryGetAndDelete(key, buffer, out length);
                    break;
                case OpKind.TryGetAndDeleteWriter:
                    flag = _map.TryGetAndDelete(key, writer);
                    break;
                case OpKind.TryRemove:
                    flag = _map.TryRemove(key, out array);
                    break;
                case OpKind.Swap:
                    array = _expiry ? _map.Swap(key, arg, options) : _map.Swap(key, arg);
                    break;
                case OpKind.TrySwapSpan:
                    flag = _expiry ? _map.TrySwap(key, arg, buffer, out length, options) : _map.TrySwap(key, arg, buffer, out length);
                    break;
                case OpKind.TrySwapWriter:
                    flag = _expiry ? _map.TrySwap(key, arg, writer, options) : _map.TrySwap(key, arg, writer);
                    break;
                case OpKind.CompareAndSwap:
                    flag = _expiry ? _map.CompareAndSwap(key, expected, arg, options) : _map.CompareAndSwap(key, expected, arg);
                    break;
                case OpKind.CompareAndDelete:
                    flag = _map.CompareAndDelete(key, expected);
                    break;
                default:
                    throw new InvalidOperationException(op.Kind.ToString());
            }

            op.Return = Stopwatch.GetTimestamp();

            op.Flag = flag;
            op.Value = op.Kind switch
            {
                OpKind.GetOrInsert or OpKind.Get or OpKind.GetAndDelete or OpKind.Swap => ArrayResult(array, k),
                OpKind.TryGetValue or OpKind.TryRemove => flag == (array is not null) ? ArrayResult(array, k) : RegisterModel.Garbage,
                OpKind.TryGetSpan => TryGetResult(flag, length, destination, k),
                OpKind.TryGetAndDeleteSpan or OpKind.TrySwapSpan => SpanResult(flag, length, destination, k),
                OpKind.TryGetWriter or OpKind.TryGetAndDeleteWriter or OpKind.TrySwapWriter => WriterResult(flag, k),
                OpKind.GetOrInsertWriter => WriterResult(true, k),
                OpKind.TryRead => flag ? _readSymbol : RegisterModel.Absent,
                _ => RegisterModel.Absent,
            };

            if (op.Value == RegisterModel.Garbage)
            {
                ReadOnlySpan<byte> seen = array is not null ? array : _writer.WrittenCount > 0 ? _writer.WrittenSpan : buffer[..Math.Min(length, destination)];
                return string.Create(CultureInfo.InvariantCulture, $"returned a value this history never wrote for the key (flag {flag}, length {length}): {ModelRules.Describe(seen)}");
            }

            return null;
        }
    }
}
