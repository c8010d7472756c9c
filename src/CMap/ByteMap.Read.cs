using System;
using System.Buffers;
using System.Runtime.CompilerServices;

namespace CMap;

// The read API. Each member checks the key, hashes once and calls the shard's one read core with its own consumer.
// Every one ends with GC.KeepAlive [E8]: with the optimizing JIT a map whose last reference is the running call could
// otherwise become unreachable inside its own read, and its finalizer free memory the read (or a TryRead callback) is
// still looking at.
public sealed partial class ByteMap
{
    /// <summary>Returns a copy of the value stored for <paramref name="key"/>, or null.</summary>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public byte[]? Get(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        ulong hash = _hasher.Hash(key);
        var copy = new CopyToArray();
        bool found = ShardFor(hash).Read(key, hash, ref copy);
        GC.KeepAlive(this);
        return found ? copy.Result : null;
    }

    /// <summary>Copies the value stored for <paramref name="key"/> into <paramref name="destination"/>. Allocates nothing.</summary>
    /// <param name="key">The key.</param>
    /// <param name="destination">Where the value goes.</param>
    /// <param name="written">
    /// When true is returned, the value's length. When false: 0 if the key is absent, or the value's length (always
    /// greater than <paramref name="destination"/>'s) if the key is present but the value does not fit.
    /// </param>
    /// <returns>True when the value was copied.</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet(ReadOnlySpan<byte> key, Span<byte> destination, out int written)
    {
        CheckKey(key);
        ulong hash = _hasher.Hash(key);
        var copy = new CopyToSpan(destination);
        ShardFor(hash).Read(key, hash, ref copy);
        GC.KeepAlive(this);
        written = copy.Length;
        return copy.Copied;
    }

    /// <summary>
    /// Writes the value stored for <paramref name="key"/> to <paramref name="destination"/>. An exception the writer
    /// throws reaches the caller; the map is unaffected.
    /// </summary>
    /// <returns>True when the key was found and its value written; false when it is absent.</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryGet(ReadOnlySpan<byte> key, IBufferWriter<byte> destination)
    {
        if (destination is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(destination));
        }

        CheckKey(key);
        ulong hash = _hasher.Hash(key);
        var write = new CopyToWriter(destination);
        bool found = ShardFor(hash).Read(key, hash, ref write);
        GC.KeepAlive(this);
        return found;
    }

    /// <summary>
    /// Zero-copy read: calls <paramref name="reader"/> with the stored value while it is guaranteed to stay valid.
    /// The span must not escape the callback. Other threads' reads and writes proceed meanwhile, but memory this map
    /// retires during a long callback is freed only after it returns (other maps are not affected). Inside the
    /// callback this map's <see cref="Clear"/>, <see cref="Compact"/> and <see cref="Dispose"/> throw
    /// <see cref="InvalidOperationException"/>: they would wait for the callback itself. An exception the callback
    /// throws reaches the caller; the map is unaffected.
    /// </summary>
    /// <typeparam name="TState">State passed to the callback, so it need not capture.</typeparam>
    /// <returns>True when the key was found and <paramref name="reader"/> was called.</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="reader"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryRead<TState>(ReadOnlySpan<byte> key, TState state, ReadOnlySpanAction<byte, TState> reader)
        where TState : allows ref struct
    {
        if (reader is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(reader));
        }

        CheckKey(key);
        ulong hash = _hasher.Hash(key);
        var call = new InvokeReader<TState>(reader, state);
        bool found = ShardFor(hash).Read(key, hash, ref call);
        GC.KeepAlive(this);
        return found;
    }

    /// <summary>True when <paramref name="key"/> is present.</summary>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool ContainsKey(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        ulong hash = _hasher.Hash(key);
        var presence = new Presence();
        bool found = ShardFor(hash).Read(key, hash, ref presence);
        GC.KeepAlive(this);
        return found;
    }
}
