using System;
using System.Runtime.CompilerServices;
using System.Threading;
using CMap.Buffer;

namespace CMap;

/// <summary>The one read core: every read (Get, both TryGets, TryRead, ContainsKey and GetOrInsert's hit) is this.</summary>
internal sealed unsafe partial class Shard
{
    /// <summary>
    /// Looks <paramref name="key"/> up lock-free inside the map's epoch region and hands the stored value to
    /// <paramref name="consumer"/> before leaving it, whatever happens. Returns whether the key was found. Throws
    /// <see cref="ObjectDisposedException"/> once the map is disposed. The next features (expiry checks, access
    /// marks, hit and miss counts) belong here and nowhere else.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Read<TConsumer>(ReadOnlySpan<byte> key, ulong hash, ref TConsumer consumer)
        where TConsumer : struct, IValueConsumer, allows ref struct
    {
        long* slot = _epoch.Enter();
        if (!TConsumer.MayThrow)
        {
            // Nothing between Enter and Exit can throw for these consumers, so no try/finally (a measurable cost
            // on a 10 ns read). The JIT keeps only one of the two branches per consumer.
            bool found = ReadInside(key, hash, ref consumer);
            EpochDomain.Exit(slot);
            return found;
        }

        try
        {
            return ReadInside(key, hash, ref consumer);
        }
        finally
        {
            EpochDomain.Exit(slot);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool ReadInside<TConsumer>(ReadOnlySpan<byte> key, ulong hash, ref TConsumer consumer)
        where TConsumer : struct, IValueConsumer, allows ref struct
    {
        // [I2] Acquire: the table's slots were filled before its pointer was published.
        var t = (IndexTable*)Volatile.Read(ref _table);
        if (Probe.Find(t, hash, new KeyMatch(key), out ulong word) < 0)
        {
            return false;
        }

        // [E2] The consumer runs inside the region, so the entry stays readable for as long as it reads.
        consumer.Consume(new EntryReader(IndexWord.Address(word)).Value);
        return true;
    }
}
