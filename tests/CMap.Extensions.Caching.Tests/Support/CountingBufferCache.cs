using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Distributed;

namespace CMap.Extensions.Caching.Tests.Support;

/// <summary>
/// An <see cref="IBufferDistributedCache"/> that passes every call to the cache it wraps and counts them by member,
/// and remembers the keys written: shows which path a caller (HybridCache) takes.
/// </summary>
internal sealed class CountingBufferCache(IBufferDistributedCache inner) : IBufferDistributedCache
{
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    // Released after every write has reached the wrapped cache: what WaitForAsync waits on.
    private readonly SemaphoreSlim _writes = new(0);

    /// <summary>Keys written, in order.</summary>
    public ConcurrentQueue<string> KeysWritten { get; } = new();

    /// <summary>Calls to <paramref name="member"/> so far (e.g. "TryGetAsync", "SetAsync(byte[])").</summary>
    public int Calls(string member) => _calls.TryGetValue(member, out int n) ? n : 0;

    /// <summary>Calls to the byte[] members (Get, GetAsync, Set(byte[]), SetAsync(byte[])) so far.</summary>
    public int ArrayPathCalls => Calls("Get") + Calls("GetAsync") + Calls("Set(byte[])") + Calls("SetAsync(byte[])");

    /// <summary>Calls to the buffer members (TryGet, TryGetAsync, Set(sequence), SetAsync(sequence)) so far.</summary>
    public int BufferPathCalls => Calls("TryGet") + Calls("TryGetAsync") + Calls("Set(sequence)") + Calls("SetAsync(sequence)");

    public override string ToString() => string.Join(", ", _calls);

    public byte[]? Get(string key) => Count("Get", inner.Get(key));

    public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => Count("GetAsync", inner.GetAsync(key, token));

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options)
    {
        Written("Set(byte[])", key);
        inner.Set(key, value, options);
        _writes.Release();
    }

    public async Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        Written("SetAsync(byte[])", key);
        await inner.SetAsync(key, value, options, token);
        _writes.Release();
    }

    public void Refresh(string key) => Count("Refresh", key, inner.Refresh);

    public Task RefreshAsync(string key, CancellationToken token = default) => Count("RefreshAsync", inner.RefreshAsync(key, token));

    public void Remove(string key) => Count("Remove", key, inner.Remove);

    public Task RemoveAsync(string key, CancellationToken token = default) => Count("RemoveAsync", inner.RemoveAsync(key, token));

    public bool TryGet(string key, IBufferWriter<byte> destination) => Count("TryGet", inner.TryGet(key, destination));

    public ValueTask<bool> TryGetAsync(string key, IBufferWriter<byte> destination, CancellationToken token = default)
    {
        _calls.AddOrUpdate("TryGetAsync", 1, static (_, n) => n + 1);
        return inner.TryGetAsync(key, destination, token);
    }

    public void Set(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options)
    {
        Written("Set(sequence)", key);
        inner.Set(key, value, options);
        _writes.Release();
    }

    public async ValueTask SetAsync(string key, ReadOnlySequence<byte> value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        Written("SetAsync(sequence)", key);
        await inner.SetAsync(key, value, options, token);
        _writes.Release();
    }

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, re-checking it after every write that reaches the wrapped cache
    /// (HybridCache writes its L2 in the background); fails with <paramref name="message"/> after <paramref name="timeout"/>.
    /// </summary>
    public async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, string message, CancellationToken token)
    {
        var since = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            TimeSpan left = timeout - since.Elapsed;
            if (left <= TimeSpan.Zero || !await _writes.WaitAsync(left, token))
            {
                Xunit.Assert.Fail($"{message} (waited {timeout.TotalSeconds} s; calls: {this})");
            }
        }
    }

    private void Written(string member, string key)
    {
        _calls.AddOrUpdate(member, 1, static (_, n) => n + 1);
        KeysWritten.Enqueue(key);
    }

    private T Count<T>(string member, T result)
    {
        _calls.AddOrUpdate(member, 1, static (_, n) => n + 1);
        return result;
    }

    private void Count(string member, string key, Action<string> call)
    {
        _calls.AddOrUpdate(member, 1, static (_, n) => n + 1);
        call(key);
    }
}
