using System;
using System.Buffers;
using System.Diagnostics.Metrics;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Options;

namespace CMap.Extensions.Caching;

/// <summary>
/// <see cref="IDistributedCache"/> and <see cref="IBufferDistributedCache"/> over a <see cref="ByteMap"/> it owns: an
/// in-process cache that HybridCache uses as its L2 through the buffer path, and that a service swaps for Redis or
/// Garnet by changing one registration. Keys are encoded to UTF-8 on the stack (or in a pooled buffer when long);
/// the buffer path and <c>Set</c>, <c>Refresh</c> and <c>Remove</c> allocate nothing. Async members complete
/// synchronously. Thread-safe.
/// </summary>
/// <remarks>
/// <see cref="DistributedCacheEntryOptions"/> map to CMap's expiry: absolute, relative and sliding, the earliest
/// applying. As RedisCache does, an absolute expiration not in the future is rejected. <c>Refresh</c> extends sliding
/// expiry without reading the value.
/// </remarks>
// RS0026: the optional CancellationToken parameters and their overloads are IDistributedCache's and
// IBufferDistributedCache's own signatures.
#pragma warning disable RS0026
public sealed class CMapDistributedCache : IBufferDistributedCache, IDisposable
{
    private static readonly Task<byte[]?> s_missing = Task.FromResult<byte[]?>(null);

    private readonly ByteMap _map;
    private readonly TimeProvider _time;

    /// <summary>Builds the cache and its map from <paramref name="options"/>.</summary>
    /// <param name="options">The settings.</param>
    /// <param name="timeProvider">The clock when the options set none (with DI, the container's); null: the system clock.</param>
    /// <param name="meterFactory">Where the "CMap" meter comes from (with DI, the container's); null: a shared meter.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it (CMapConfig's validation).</exception>
    /// <exception cref="OutOfMemoryException">The map's initial index could not be allocated.</exception>
    public CMapDistributedCache(IOptions<CMapCacheOptions> options, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        CMapCacheOptions o = options.Value;
        _time = o.TimeProvider ?? timeProvider ?? TimeProvider.System;
        _map = new ByteMap(o.ToConfig(_time, meterFactory));
    }

    /// <summary>The map behind the cache (statistics, compaction).</summary>
    public ByteMap Map => _map;

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException">The key's UTF-8 form is longer than <see cref="ByteMap.MaxKeyLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public byte[]? Get(string key)
    {
        using var k = new Utf8Key(key, stackalloc byte[Utf8Key.StackBytes]);
        return _map.Get(k.Bytes);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException">The key's UTF-8 form is longer than <see cref="ByteMap.MaxKeyLength"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> was cancelled (checked first).</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public Task<byte[]?> GetAsync(string key, CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        byte[]? value = Get(key);
        return value is null ? s_missing : Task.FromResult<byte[]?>(value);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="destination"/> is null.</exception>
    /// <exception cref="ArgumentException">The key's UTF-8 form is longer than <see cref="ByteMap.MaxKeyLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public bool TryGet(string key, IBufferWriter<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var k = new Utf8Key(key, stackalloc byte[Utf8Key.StackBytes]);
        return _map.TryGet(k.Bytes, destination);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="destination"/> is null.</exception>
    /// <exception cref="ArgumentException">The key's UTF-8 form is longer than <see cref="ByteMap.MaxKeyLength"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> was cancelled (checked first).</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        return new ValueTask<bool>(TryGet(key, destination));
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/>, <paramref name="value"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The key or value is over its limit, or the entry would take more than a quarter of the budget; nothing changes.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The absolute expiration is not in the future; nothing changes.</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public void Set(string key, byte[] value, DistributedCacheEntryOptions options)
    {
        ArgumentNullException.ThrowIfNull(value);
        Set(key, value.AsSpan(), options);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/>, <paramref name="value"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The key or value is over its limit, or the entry would take more than a quarter of the budget; nothing changes.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The absolute expiration is not in the future; nothing changes.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> was cancelled (checked first; nothing changes).</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        Set(key, value, options);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The key or value is over its limit, or the entry would take more than a quarter of the budget; nothing changes.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The absolute expiration is not in the future; nothing changes.</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public void Set(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options)
    {
        if (value.IsSingleSegment)
        {
            Set(key, value.FirstSpan, options);
            return;
        }

        // Several segments: gather them into one pooled buffer (the map stores one contiguous value).
        if (value.Length > CMapConfig.MaxValueLengthLimit)
        {
            throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"The value is {value.Length:N0} bytes; no CMapConfig.MaxValueLength exceeds {CMapConfig.MaxValueLengthLimit:N0} bytes (CMapConfig.MaxValueLengthLimit)."), nameof(value));
        }

        int length = (int)value.Length;
        byte[] rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            value.CopyTo(rented);
            Set(key, rented.AsSpan(0, length), options);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The key or value is over its limit, or the entry would take more than a quarter of the budget; nothing changes.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The absolute expiration is not in the future; nothing changes.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> was cancelled (checked first; nothing changes).</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public ValueTask SetAsync(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        Set(key, value, options);
        return default;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException">The key's UTF-8 form is longer than <see cref="ByteMap.MaxKeyLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public void Refresh(string key)
    {
        using var k = new Utf8Key(key, stackalloc byte[Utf8Key.StackBytes]);
        _map.Refresh(k.Bytes);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException">The key's UTF-8 form is longer than <see cref="ByteMap.MaxKeyLength"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> was cancelled (checked first).</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public Task RefreshAsync(string key, CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        Refresh(key);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException">The key's UTF-8 form is longer than <see cref="ByteMap.MaxKeyLength"/>.</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public void Remove(string key)
    {
        using var k = new Utf8Key(key, stackalloc byte[Utf8Key.StackBytes]);
        _map.Delete(k.Bytes);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="ArgumentException">The key's UTF-8 form is longer than <see cref="ByteMap.MaxKeyLength"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="token"/> was cancelled (checked first; nothing changes).</exception>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    public Task RemoveAsync(string key, CancellationToken token = default)
    {
        token.ThrowIfCancellationRequested();
        Remove(key);
        return Task.CompletedTask;
    }

    /// <summary>Disposes the map and frees its native memory. Idempotent.</summary>
    public void Dispose() => _map.Dispose();

    private void Set(string key, ReadOnlySpan<byte> value, DistributedCacheEntryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CMapEntryOptions expiry = ToEntryOptions(options);
        using var k = new Utf8Key(key, stackalloc byte[Utf8Key.StackBytes]);
        _map.Insert(k.Bytes, value, expiry);
    }

    private CMapEntryOptions ToEntryOptions(DistributedCacheEntryOptions options)
    {
        if (options.AbsoluteExpiration is DateTimeOffset at && at <= _time.GetUtcNow())
        {
            throw new ArgumentOutOfRangeException(nameof(options), at, "DistributedCacheEntryOptions.AbsoluteExpiration must be in the future.");
        }

        return new CMapEntryOptions
        {
            AbsoluteExpiration = options.AbsoluteExpiration,
            AbsoluteExpirationRelativeToNow = options.AbsoluteExpirationRelativeToNow,
            SlidingExpiration = options.SlidingExpiration,
        };
    }
}
#pragma warning restore RS0026
