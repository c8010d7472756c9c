using System;
using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using CMap.Buffer;

namespace CMap;

// sync.Map's atomic operations (LoadAndDelete, Swap, CompareAndSwap, CompareAndDelete) and a get-or-insert that
// allocates nothing, each linearizable per key: one pass of the write path under the shard lock. An old value handed
// back is read after the lock is released, inside an epoch region entered before the write changed anything [I11],
// so user code (a buffer writer, a callback) never runs under a shard lock.
//
// RS0026: each put here takes the entry's expiry as its last parameter, defaulting to none (as a plain Insert), so
// that the span, buffer-writer and array forms stay one overload each.
#pragma warning disable RS0026
public sealed partial class ByteMap
{
    /// <summary>Removes <paramref name="key"/> and returns the value it had (sync.Map's LoadAndDelete).</summary>
    /// <returns>A copy of the removed value, or null when the key was absent (or expired).</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public byte[]? GetAndDelete(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        var op = new TakeValue();
        Write(key, ref op, default, 0);
        byte[]? result = op.Previous.HasValue ? CopyAndRelease(ref op.Previous) : null;
        GC.KeepAlive(this); // [E8]
        return result;
    }

    /// <summary>
    /// Removes <paramref name="key"/> and copies the value it had into <paramref name="destination"/>. The removal
    /// happens even when the value does not fit: <paramref name="valueLength"/> then tells the length it needed.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="destination">Where the removed value goes, when it fits.</param>
    /// <param name="valueLength">The removed value's length (copied only when it is at most the destination's); 0 when absent.</param>
    /// <returns>True when the key was present and is now removed.</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryGetAndDelete(ReadOnlySpan<byte> key, Span<byte> destination, out int valueLength)
    {
        CheckKey(key);
        var op = new TakeValue();
        Write(key, ref op, default, 0);
        bool removed = CopyAndRelease(ref op.Previous, destination, out valueLength);
        GC.KeepAlive(this); // [E8]
        return removed;
    }

    /// <summary>Removes <paramref name="key"/> and writes the value it had to <paramref name="destination"/> (after the removal, outside any lock).</summary>
    /// <returns>True when the key was present and is now removed (then its value was written).</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>; the map is unchanged.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryGetAndDelete(ReadOnlySpan<byte> key, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        CheckKey(key);
        var op = new TakeValue();
        Write(key, ref op, default, 0);
        bool removed = WriteAndRelease(ref op.Previous, destination);
        GC.KeepAlive(this); // [E8]
        return removed;
    }

    /// <summary>Removes <paramref name="key"/> and returns its value (<c>ConcurrentDictionary.TryRemove</c>'s shape).</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">A copy of the removed value, or null.</param>
    /// <returns>True when the key was present and is now removed.</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryRemove(ReadOnlySpan<byte> key, [NotNullWhen(true)] out byte[]? value)
    {
        value = GetAndDelete(key);
        return value is not null;
    }

    /// <summary>Stores <paramref name="value"/> for <paramref name="key"/> and returns the value it replaced (sync.Map's Swap).</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The new value.</param>
    /// <param name="options">The new entry's expiry; <c>default</c>: none.</param>
    /// <returns>A copy of the previous value, or null when the key was absent (or expired).</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or the entry would take more than
    /// a quarter of <see cref="CMapConfig.MaxBytes"/>; the map is unchanged.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A span in <paramref name="options"/> is not positive; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public byte[]? Swap(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, in CMapEntryOptions options = default)
    {
        EntryExpiry expiry = ResolveExpiry(options, out long now);
        CheckLengths(key, value, expiry);
        var op = new SwapValue(value);
        Write(key, ref op, expiry, now);
        byte[]? result = op.Previous.HasValue ? CopyAndRelease(ref op.Previous) : null;
        GC.KeepAlive(this); // [E8]
        return result;
    }

    /// <summary>
    /// Stores <paramref name="value"/> for <paramref name="key"/> and copies the value it replaced into
    /// <paramref name="previous"/>. The store happens even when the old value does not fit:
    /// <paramref name="previousLength"/> then tells the length it needed.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The new value.</param>
    /// <param name="previous">Where the replaced value goes, when it fits.</param>
    /// <param name="previousLength">The replaced value's length (copied only when it is at most the destination's); 0 when there was none.</param>
    /// <param name="options">The new entry's expiry; <c>default</c>: none.</param>
    /// <returns>True when a value was replaced; false when the key was added.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or the entry would take more than
    /// a quarter of <see cref="CMapConfig.MaxBytes"/>; the map is unchanged.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A span in <paramref name="options"/> is not positive; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TrySwap(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, Span<byte> previous, out int previousLength, in CMapEntryOptions options = default)
    {
        EntryExpiry expiry = ResolveExpiry(options, out long now);
        CheckLengths(key, value, expiry);
        var op = new SwapValue(value);
        Write(key, ref op, expiry, now);
        bool replaced = CopyAndRelease(ref op.Previous, previous, out previousLength);
        GC.KeepAlive(this); // [E8]
        return replaced;
    }

    /// <summary>Stores <paramref name="value"/> for <paramref name="key"/> and writes the value it replaced to <paramref name="previous"/> (after the store, outside any lock).</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The new value.</param>
    /// <param name="previous">Where the replaced value is written.</param>
    /// <param name="options">The new entry's expiry; <c>default</c>: none.</param>
    /// <returns>True when a value was replaced (and written); false when the key was added.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or the entry would take more than
    /// a quarter of <see cref="CMapConfig.MaxBytes"/>; the map is unchanged.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="previous"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A span in <paramref name="options"/> is not positive; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TrySwap(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, IBufferWriter<byte> previous, in CMapEntryOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(previous);
        EntryExpiry expiry = ResolveExpiry(options, out long now);
        CheckLengths(key, value, expiry);
        var op = new SwapValue(value);
        Write(key, ref op, expiry, now);
        bool replaced = WriteAndRelease(ref op.Previous, previous);
        GC.KeepAlive(this); // [E8]
        return replaced;
    }

    /// <summary>Replaces the value of <paramref name="key"/> with <paramref name="value"/> only if it currently equals <paramref name="expected"/> (sync.Map's CompareAndSwap).</summary>
    /// <param name="key">The key.</param>
    /// <param name="expected">The value the key must have (byte for byte).</param>
    /// <param name="value">The new value.</param>
    /// <param name="options">The new entry's expiry; <c>default</c>: none.</param>
    /// <returns>True when the value was replaced; false when the key is absent, expired, or holds another value.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or the entry would take more than
    /// a quarter of <see cref="CMapConfig.MaxBytes"/>; the map is unchanged.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A span in <paramref name="options"/> is not positive; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool CompareAndSwap(ReadOnlySpan<byte> key, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> value, in CMapEntryOptions options = default)
    {
        EntryExpiry expiry = ResolveExpiry(options, out long now);
        CheckLengths(key, value, expiry);
        var op = new ReplaceIfEqual(expected, value);
        return Write(key, ref op, expiry, now) == WriteOutcome.Replaced;
    }

    /// <summary>Removes <paramref name="key"/> only if its value currently equals <paramref name="expected"/> (sync.Map's CompareAndDelete).</summary>
    /// <returns>True when the key was removed.</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool CompareAndDelete(ReadOnlySpan<byte> key, ReadOnlySpan<byte> expected)
    {
        CheckKey(key);
        var op = new RemoveIfEqual(expected);
        return Write(key, ref op, default, 0) == WriteOutcome.Removed;
    }

    /// <summary>
    /// Writes the value stored for <paramref name="key"/> to <paramref name="destination"/>, adding
    /// <paramref name="value"/> first if the key is absent (or expired). Atomic: of racing callers exactly one adds.
    /// Allocates nothing; the destination is written outside any lock.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value to add when the key is absent.</param>
    /// <param name="destination">Receives the value now stored.</param>
    /// <param name="options">An added entry's expiry; <c>default</c>: none.</param>
    /// <returns>True when this call added the key.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or the entry would take more than
    /// a quarter of <see cref="CMapConfig.MaxBytes"/>; the map is unchanged.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A span in <paramref name="options"/> is not positive; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool GetOrInsert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, IBufferWriter<byte> destination, in CMapEntryOptions options = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var consumer = new CopyToWriter(destination);
        return GetOrInsertInto(key, value, options, ref consumer);
    }

    /// <summary>
    /// Calls <paramref name="reader"/> with the value stored for <paramref name="key"/>, adding <paramref name="value"/>
    /// first if the key is absent (or expired). Atomic: of racing callers exactly one adds. Allocates nothing; the
    /// callback runs outside any lock, on the stored bytes (as <see cref="TryRead{TState}"/>) or, when this call added
    /// the key, on <paramref name="value"/>.
    /// </summary>
    /// <typeparam name="TState">State passed to the callback, so it need not capture.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value to add when the key is absent.</param>
    /// <param name="state">Passed to <paramref name="reader"/>.</param>
    /// <param name="reader">Sees the value now stored; the span must not escape it.</param>
    /// <param name="options">An added entry's expiry; <c>default</c>: none.</param>
    /// <returns>True when this call added the key.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or the entry would take more than
    /// a quarter of <see cref="CMapConfig.MaxBytes"/>; the map is unchanged.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="reader"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A span in <paramref name="options"/> is not positive; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool GetOrInsert<TState>(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, TState state, ReadOnlySpanAction<byte, TState> reader, in CMapEntryOptions options = default)
        where TState : allows ref struct
    {
        ArgumentNullException.ThrowIfNull(reader);
        var consumer = new InvokeReader<TState>(reader, state);
        return GetOrInsertInto(key, value, options, ref consumer);
    }

    /// <summary>Returns the value stored for <paramref name="key"/> as a new array, or null (<c>ConcurrentDictionary.TryGetValue</c>'s shape).</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">A copy of the value, or null.</param>
    /// <returns>True when the key is present.</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryGetValue(ReadOnlySpan<byte> key, [NotNullWhen(true)] out byte[]? value)
    {
        value = Get(key);
        return value is not null;
    }

    /// <summary>The one get-or-insert that hands the value to a consumer: a lock-free hit, or the write path and then the consumer, outside the lock.</summary>
    private bool GetOrInsertInto<TConsumer>(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, in CMapEntryOptions options, ref TConsumer consumer)
        where TConsumer : struct, IValueConsumer, allows ref struct
    {
        EntryExpiry expiry = ResolveExpiry(options, out long now);
        CheckLengths(key, value, expiry);
        ulong hash = _hasher.Hash(key);
        ref Shard shard = ref ShardFor(hash);
        if (shard.Read(key, hash, ref consumer))
        {
            GC.KeepAlive(this); // [E8]
            return false;
        }

        var op = new GetOrAddInPlace(value);
        bool inserted = WriteToShard(ref shard, key, hash, ref op, expiry, now) == WriteOutcome.Added;
        if (op.Previous.HasValue)
        {
            // A racing writer added the key first: its value, read in the region the write path entered [I11].
            try
            {
                consumer.Consume(op.Previous.Value);
            }
            finally
            {
                op.Previous.Release();
            }
        }
        else
        {
            consumer.Consume(value);
        }

        GC.KeepAlive(this); // [E8]
        return inserted;
    }

    private static byte[] CopyAndRelease(ref PreviousValue previous)
    {
        try
        {
            return previous.Value.ToArray();
        }
        finally
        {
            previous.Release();
        }
    }

    private static bool CopyAndRelease(ref PreviousValue previous, Span<byte> destination, out int length)
    {
        if (!previous.HasValue)
        {
            length = 0;
            return false;
        }

        ReadOnlySpan<byte> old = previous.Value;
        length = old.Length;
        old.TryCopyTo(destination);
        previous.Release();
        return true;
    }

    private static bool WriteAndRelease(ref PreviousValue previous, IBufferWriter<byte> destination)
    {
        if (!previous.HasValue)
        {
            return false;
        }

        try
        {
            new CopyToWriter(destination).Consume(previous.Value);
        }
        finally
        {
            previous.Release();
        }

        return true;
    }
}
#pragma warning restore RS0026
