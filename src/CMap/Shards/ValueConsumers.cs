using System;
using System.Buffers;

namespace CMap;

/// <summary>
/// What the read core does with a value it found, inside the epoch region that keeps the value's bytes valid.
/// A struct, so each consumer gets its own specialized copy of the one read core.
/// </summary>
internal interface IValueConsumer
{
    /// <summary>
    /// False for consumers that provably cannot throw (span copy, presence): the read core then leaves the region
    /// without a try/finally. True for those that allocate or run user code.
    /// </summary>
    static abstract bool MayThrow { get; }

    void Consume(ReadOnlySpan<byte> value);
}

/// <summary>Get: a fresh array.</summary>
internal struct CopyToArray : IValueConsumer
{
    public byte[]? Result;

    public static bool MayThrow => true;

    public void Consume(ReadOnlySpan<byte> value) => Result = value.ToArray();
}

/// <summary>TryGet into a span: copies when it fits, and reports the length either way.</summary>
internal ref struct CopyToSpan(Span<byte> destination) : IValueConsumer
{
    private readonly Span<byte> _destination = destination;
    public int Length;
    public bool Copied;

    public static bool MayThrow => false;

    public void Consume(ReadOnlySpan<byte> value)
    {
        Length = value.Length;
        Copied = value.TryCopyTo(_destination);
    }
}

/// <summary>TryGet into a buffer writer (user code: may throw).</summary>
internal readonly struct CopyToWriter(IBufferWriter<byte> writer) : IValueConsumer
{
    public static bool MayThrow => true;

    public void Consume(ReadOnlySpan<byte> value)
    {
        value.CopyTo(writer.GetSpan(value.Length));
        writer.Advance(value.Length);
    }
}

/// <summary>TryRead: the user's callback sees the stored bytes in place.</summary>
internal readonly ref struct InvokeReader<TState>(ReadOnlySpanAction<byte, TState> reader, TState state) : IValueConsumer
    where TState : allows ref struct
{
    private readonly TState _state = state;

    public static bool MayThrow => true;

    public void Consume(ReadOnlySpan<byte> value) => reader(value, _state);
}

/// <summary>ContainsKey: nothing to do with the value.</summary>
internal struct Presence : IValueConsumer
{
    public static bool MayThrow => false;

    public readonly void Consume(ReadOnlySpan<byte> value)
    {
    }
}
