using System;
using System.Threading;

namespace CMap;

/// <summary>Test-only views of a shard's writer state. Never on a hot path.</summary>
internal unsafe partial struct Shard
{
    /// <summary>The access count (0..3) in <paramref name="key"/>'s index word, or -1 when the key is absent; reads nothing else, marks nothing.</summary>
    internal int AccessCountForTests(ReadOnlySpan<byte> key, ulong hash)
    {
        using (_lock.EnterScope())
        {
            long slot = Probe.Find((IndexTable*)_table, hash, new KeyMatch(key), out ulong word);
            return slot < 0 ? -1 : (int)((word & IndexWord.CountMask) >> IndexWord.CountShift);
        }
    }

    /// <summary>The size class the shard used for its last chunk (tests of the adaptive policy).</summary>
    internal int SizeClassForTests => Volatile.Read(ref _sizeClass);

    /// <summary>Native bytes of the chunk list's array (racy outside the lock: a test view).</summary>
    internal long ChunkListBytesForTests => _chunks.Bytes;
}
