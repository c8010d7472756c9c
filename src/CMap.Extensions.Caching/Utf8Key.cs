using System;
using System.Buffers;
using System.Text;

namespace CMap.Extensions.Caching;

/// <summary>
/// A string key's UTF-8 bytes, encoded into the caller's stack buffer, or a pooled array when it does not fit, never
/// a fresh <c>byte[]</c>. Dispose returns the pooled array. Invalid UTF-16 (a lone surrogate) encodes as U+FFFD, as
/// in StackExchange.Redis.
/// </summary>
internal ref struct Utf8Key
{
    /// <summary>Stack bytes a key may take: keys of up to 85 characters never touch the pool.</summary>
    internal const int StackBytes = 256;

    private byte[]? _rented;

    public Utf8Key(string key, Span<byte> stack)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length * 3 <= stack.Length)
        {
            Bytes = stack[..Encoding.UTF8.GetBytes(key, stack)];
            return;
        }

        _rented = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetByteCount(key));
        Bytes = _rented.AsSpan(0, Encoding.UTF8.GetBytes(key, _rented));
    }

    public ReadOnlySpan<byte> Bytes { get; }

    public void Dispose()
    {
        if (_rented is not null)
        {
            ArrayPool<byte>.Shared.Return(_rented);
            _rented = null;
        }
    }
}
