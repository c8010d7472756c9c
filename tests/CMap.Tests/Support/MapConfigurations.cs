using System;
using System.Collections.Generic;
using CMap;
using Xunit;

namespace CMap.Tests.Support;

/// <summary>The configurations every contract test runs against.</summary>
public static class MapConfigurations
{
    public const string OneShard = "one-shard";
    public const string ManyShards = "many-shards";
    public const string TinyChunks = "tiny-chunks";
    public const string Default = "default";

    public static TheoryData<string> All => new() { OneShard, ManyShards, TinyChunks, Default };

    public static CMapConfig Create(string name) => name switch
    {
        OneShard => new CMapConfig { ShardCount = 1, Seed = 1 },
        ManyShards => new CMapConfig { ShardCount = 256, Seed = 2 },
        // 1 KiB chunks: nearly every test crosses chunk boundaries, seals and retires chunks, and uses oversize blocks.
        TinyChunks => new CMapConfig { ShardCount = 4, Seed = 3, ChunkSizes = [1024, 2048, 4096], MaxRetainedChunkBytes = 8192 },
        Default => new CMapConfig(),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>Log bytes an entry takes: the short header (4 bytes) when key ≤ 255 and value &lt; 4 MiB, else 8.</summary>
    public static long EntrySize(int keyLength, int valueLength) =>
        (keyLength <= 255 && valueLength < (4 << 20) ? 4 : 8) + (long)keyLength + valueLength;

    public static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static byte[] Key(int i) => BitConverter.GetBytes((long)i * 2654435761L);

    public static IEnumerable<int> Range(int n)
    {
        for (int i = 0; i < n; i++)
        {
            yield return i;
        }
    }
}
