using System;
using System.Buffers;
using System.Runtime.InteropServices;

namespace CMap.Extensions.Caching.Tests.Support;

/// <summary>The shapes of <see cref="ReadOnlySequence{T}"/> a caller may hand <c>IBufferDistributedCache.Set</c>.</summary>
internal static class Sequences
{
    internal const string WholeArray = "whole-array";
    internal const string OffsetSlice = "offset-slice";
    internal const string NativeMemory = "native-memory";
    internal const string Segmented = "segmented";

    internal static readonly string[] Shapes = [WholeArray, OffsetSlice, NativeMemory, Segmented];

    /// <summary>
    /// <paramref name="payload"/> as a sequence of the given shape. The result may own native memory: dispose the
    /// returned holder after the sequence was last used.
    /// </summary>
    internal static SequenceHolder Build(string shape, byte[] payload) => shape switch
    {
        WholeArray => new SequenceHolder(new ReadOnlySequence<byte>((byte[])payload.Clone()), null),
        OffsetSlice => OffsetSliceOf(payload),
        NativeMemory => NativeOf(payload),
        Segmented => SegmentedOf(payload),
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, null),
    };

    // The payload in the middle of a larger array, with junk on both sides that must not be stored.
    private static SequenceHolder OffsetSliceOf(byte[] payload)
    {
        const int Before = 37, After = 11;
        var buffer = new byte[Before + payload.Length + After];
        buffer.AsSpan().Fill(0xEE);
        payload.CopyTo(buffer, Before);
        return new SequenceHolder(new ReadOnlySequence<byte>(buffer, Before, payload.Length), null);
    }

    private static SequenceHolder NativeOf(byte[] payload)
    {
        var manager = new NativeMemoryManager(payload.Length);
        payload.CopyTo(manager.GetSpan());
        ReadOnlySequence<byte> sequence = new(manager.Memory);
        return new SequenceHolder(sequence, manager);
    }

    // Several segments of uneven lengths (some empty), each with junk around its slice, then sliced so that the first
    // and last segments are used only in part.
    private static SequenceHolder SegmentedOf(byte[] payload)
    {
        const int HeadJunk = 5, TailJunk = 7;
        int[] cuts = [HeadJunk + Math.Min(payload.Length, 3), 0, 1, 64, 1000, 4096];
        var segments = new System.Collections.Generic.List<byte[]>();
        byte[] all = new byte[HeadJunk + payload.Length + TailJunk];
        all.AsSpan().Fill(0xEE);
        payload.CopyTo(all, HeadJunk);
        int at = 0, i = 0;
        while (at < all.Length)
        {
            int len = Math.Min(cuts[i % cuts.Length], all.Length - at);
            segments.Add(all.AsSpan(at, len).ToArray());
            at += len;
            i++;
        }

        if (segments.Count < 3)
        {
            // A tiny payload: still at least three segments, with empty ones in the middle.
            segments.Insert(1, []);
            segments.Insert(1, []);
        }

        var first = new Segment(segments[0], 0);
        Segment last = first;
        for (int s = 1; s < segments.Count; s++)
        {
            last = last.Append(segments[s]);
        }

        var whole = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        return new SequenceHolder(whole.Slice(HeadJunk, payload.Length), null);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

/// <summary>A sequence and whatever owns its memory.</summary>
internal sealed class SequenceHolder(ReadOnlySequence<byte> sequence, IDisposable? owner) : IDisposable
{
    public ReadOnlySequence<byte> Sequence { get; } = sequence;

    public void Dispose() => owner?.Dispose();
}

/// <summary>Memory that is not an array: native memory behind a <see cref="MemoryManager{T}"/>.</summary>
internal sealed unsafe class NativeMemoryManager : MemoryManager<byte>
{
    private readonly int _length;
    private byte* _pointer;

    public NativeMemoryManager(int length)
    {
        _length = length;
        _pointer = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)Math.Max(1, length));
    }

    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_pointer is null, this);
        return new Span<byte>(_pointer, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(_pointer is null, this);
        return new MemoryHandle(_pointer + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (_pointer is not null)
        {
            System.Runtime.InteropServices.NativeMemory.Free(_pointer);
            _pointer = null;
        }
    }
}
