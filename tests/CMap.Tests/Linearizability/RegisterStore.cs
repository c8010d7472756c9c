using System;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Threading;

namespace CMap.Tests.Linearizability;

/// <summary>
/// What the recorder runs its operations on: a <see cref="ByteMap"/>, with <see cref="Get"/> and <see cref="Delete"/>
/// overridable so that a control store can break them. Every other operation goes to <see cref="Map"/> directly.
/// </summary>
internal class RegisterStore(ByteMap map)
{
    public ByteMap Map { get; } = map;

    public virtual byte[]? Get(ReadOnlySpan<byte> key) => Map.Get(key);

    public virtual bool Delete(ReadOnlySpan<byte> key) => Map.Delete(key);
}

/// <summary>
/// The control: a store with two classic bugs that a linearizability checker must catch. A Get sometimes answers
/// from a stale per-key cache filled by an earlier Get (a read that misses later writes), and a Delete sometimes
/// reports success without deleting anything (a lost delete). Neither is explained by expiry or eviction either: a
/// stale value was overwritten, a value that survives a successful delete was deleted.
/// </summary>
internal sealed class BuggyStore(ByteMap map, int seed) : RegisterStore(map)
{
    private readonly ConcurrentDictionary<int, byte[]?> _stale = new();
    private readonly ThreadLocal<Random> _random = new(() => new Random(seed ^ Environment.CurrentManagedThreadId));
    private long _staleReads;
    private long _lostDeletes;

    public long StaleReads => Interlocked.Read(ref _staleReads);

    public long LostDeletes => Interlocked.Read(ref _lostDeletes);

    public override byte[]? Get(ReadOnlySpan<byte> key)
    {
        byte[]? fresh = Map.Get(key);
        int id = BinaryPrimitives.ReadInt32LittleEndian(key);
        if (_random.Value!.Next(3) == 0 && _stale.TryGetValue(id, out byte[]? cached))
        {
            Interlocked.Increment(ref _staleReads);
            return cached;
        }

        _stale[id] = fresh;
        return fresh;
    }

    public override bool Delete(ReadOnlySpan<byte> key)
    {
        if (_random.Value!.Next(4) == 0)
        {
            Interlocked.Increment(ref _lostDeletes);
            return Map.ContainsKey(key);
        }

        return Map.Delete(key);
    }
}
