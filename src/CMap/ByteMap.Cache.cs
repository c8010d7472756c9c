using System;
using CMap.Buffer;

namespace CMap;

// The cache API: writes with expiry, and Refresh. Each resolves its options once (reading the clock only when they
// set an expiry) and goes through the same write path and read core as the plain members.
public sealed partial class ByteMap
{
    /// <summary>
    /// Adds <paramref name="key"/> with <paramref name="value"/>, or replaces the value it has, with the expiry of
    /// <paramref name="options"/>. The new write's options replace the old entry's: <c>default</c> options store an
    /// entry that never expires.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="options">When the entry expires.</param>
    /// <returns>True when the key was added (it was absent or had expired); false when a live value was replaced.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or the entry would take more than
    /// a quarter of <see cref="CMapConfig.MaxBytes"/>; the map is unchanged.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A relative or sliding span in <paramref name="options"/> is not positive; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool Insert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, in CMapEntryOptions options)
    {
        EntryExpiry expiry = ResolveExpiry(options, out long now);
        CheckLengths(key, value, expiry);
        var op = new Upsert(value);
        return Write(key, ref op, expiry, now) == WriteOutcome.Added;
    }

    /// <summary>Adds <paramref name="key"/>, with the expiry of <paramref name="options"/>, only if it is absent (or expired). Atomic: of racing callers exactly one adds.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="options">When the entry expires.</param>
    /// <returns>True when this call added the key; false when a live value was present (nothing is written).</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or the entry would take more than
    /// a quarter of <see cref="CMapConfig.MaxBytes"/>; the map is unchanged.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A relative or sliding span in <paramref name="options"/> is not positive; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool TryAdd(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, in CMapEntryOptions options)
    {
        EntryExpiry expiry = ResolveExpiry(options, out long now);
        CheckLengths(key, value, expiry);
        var op = new AddOnly(value);
        return Write(key, ref op, expiry, now) == WriteOutcome.Added;
    }

    /// <summary>
    /// Returns the value stored for <paramref name="key"/>, adding <paramref name="value"/> with the expiry of
    /// <paramref name="options"/> first if the key is absent (or expired). Atomic: of racing callers exactly one adds.
    /// A hit extends the existing entry's sliding expiry, as any read does; its options are not changed.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value to add when the key is absent.</param>
    /// <param name="options">When an added entry expires.</param>
    /// <param name="inserted">True when this call added the key.</param>
    /// <returns>The value now stored: a copy of the existing one, or of <paramref name="value"/>.</returns>
    /// <exception cref="ArgumentException">The key or value is longer than its limit, or the entry would take more than
    /// a quarter of <see cref="CMapConfig.MaxBytes"/>; the map is unchanged.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A relative or sliding span in <paramref name="options"/> is not positive; the map is unchanged.</exception>
    /// <exception cref="OutOfMemoryException">Native memory ran out; the map is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public byte[] GetOrInsert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, in CMapEntryOptions options, out bool inserted)
    {
        EntryExpiry expiry = ResolveExpiry(options, out long now);
        CheckLengths(key, value, expiry);
        return GetOrInsertCore(key, value, expiry, now, out inserted);
    }

    /// <summary>
    /// Extends the sliding expiry of <paramref name="key"/>'s entry as a read would, without reading its value
    /// (<c>IDistributedCache.Refresh</c>). An entry without sliding expiry is unchanged.
    /// </summary>
    /// <returns>True when the key is present and not expired.</returns>
    /// <exception cref="ArgumentException">The key is longer than <see cref="MaxKeyLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The map was disposed.</exception>
    public bool Refresh(ReadOnlySpan<byte> key)
    {
        CheckKey(key);
        ulong hash = _hasher.Hash(key);
        var presence = new Presence();
        bool found = ShardFor(hash).Read(key, hash, ref presence);
        GC.KeepAlive(this); // [E8]
        return found;
    }

    /// <summary>The expiry <paramref name="options"/> give an entry written now; reads the clock only when they set one.</summary>
    private EntryExpiry ResolveExpiry(in CMapEntryOptions options, out long now)
    {
        if (!options.HasExpiry)
        {
            now = 0;
            return default;
        }

        now = _clock.Now();
        return _clock.Resolve(options, now);
    }
}
