using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Threading;
using CMap;
using CMap.Buffer;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Foundation;

/// <summary>Issue 7, failure 6: the smaller failures that can be shown through the public API.</summary>
public sealed class SmallFailureTests(ITestOutputHelper output)
{
    /// <summary>
    /// A sealed chunk's unused tail is not reclaimable, and <see cref="ByteMap.Compact"/> copies nothing when no
    /// entry is dead. Once half the keys are overwritten, one Compact moves bytes and a second moves none.
    /// </summary>
    [Fact]
    public void CompactCopiesNothingWhenNothingIsDeadAndTailWasteIsNotReclaimable()
    {
        const int seed = 7601;
        const int n = 200_000;
        output.WriteLine($"seed {seed}");
        using var map = new ByteMap(new CMapConfig { ShardCount = 16, Seed = seed, BackgroundCompaction = false });
        NativeArena arena = map.ArenaForTests;
        var rng = new Random(seed);
        var value = new byte[100];
        for (int i = 0; i < n; i++)
        {
            rng.NextBytes(value);
            Assert.True(map.Insert(Key16(i), value));
        }

        CMapStatistics loaded = map.GetStatistics();
        long reclaimable = map.ReclaimableBytes;
        output.WriteLine($"after {n} inserts: live {loaded.LiveBytes}, chunk bytes {loaded.ChunkBytes}, dead {loaded.DeadBytes}, reclaimable {reclaimable}, moved {loaded.CompactionBytesMoved}");
        Assert.Equal(n, loaded.Count);

        int first = map.Compact();
        long movedAfterFirst = map.GetStatistics().CompactionBytesMoved;
        int second = map.Compact();
        long movedAfterSecond = map.GetStatistics().CompactionBytesMoved;
        output.WriteLine($"inserts only: Compact() #1 compacted {first} chunks, moved total {movedAfterFirst}; #2 compacted {second}, moved total {movedAfterSecond}");

        Assert.True(
            movedAfterFirst == loaded.CompactionBytesMoved && movedAfterSecond == loaded.CompactionBytesMoved,
            $"Compact() copied {movedAfterFirst - loaded.CompactionBytesMoved} B, then {movedAfterSecond - movedAfterFirst} B more, with no dead entry in the map (nothing can be freed by moving)");

        Assert.True(reclaimable == 0, $"ReclaimableBytes is {reclaimable} after {n} inserts with no overwrite or delete: the unused tails of sealed chunks are counted as reclaimable");

        // Overwrite every other key: half the old entries die, spread over every chunk.
        for (int i = 0; i < n; i += 2)
        {
            rng.NextBytes(value);
            Assert.False(map.Insert(Key16(i), value));
        }

        long movedBefore = map.GetStatistics().CompactionBytesMoved;
        Assert.True(map.ReclaimableBytes > 0, "half the entries were overwritten; their old copies should be reclaimable");
        map.Compact();
        long movedOnce = map.GetStatistics().CompactionBytesMoved;
        map.Compact();
        long movedTwice = map.GetStatistics().CompactionBytesMoved;
        output.WriteLine($"after overwriting half: Compact() moved {movedOnce - movedBefore} B, then {movedTwice - movedOnce} B; reclaimable now {map.ReclaimableBytes}");
        Assert.True(movedOnce > movedBefore, "Compact() after overwriting half the keys moved nothing");
        Assert.True(movedTwice == movedOnce, $"a second Compact() right after the first copied {movedTwice - movedOnce} B more, with nothing dead left");

        // Every value survived both phases.
        var check = new Random(seed);
        var expected = new byte[100];
        for (int i = 0; i < n; i++)
        {
            check.NextBytes(expected);
            if (i % 2 != 0)
            {
                Assert.True(map.Get(Key16(i)).AsSpan().SequenceEqual(expected), $"key {i} lost its value");
            }
        }

        for (int i = 0; i < n; i += 2)
        {
            check.NextBytes(expected);
            Assert.True(map.Get(Key16(i)).AsSpan().SequenceEqual(expected), $"key {i} lost its overwritten value");
        }

        map.Dispose();
        Assert.Equal(0, arena.OutstandingBytes);
    }

    /// <summary>
    /// <see cref="CMapConfig.ChunkSizes"/> is read once: a list that is valid when first read and then changes must
    /// either be rejected (an ArgumentException naming ChunkSizes, from the constructor) or yield a map that works.
    /// </summary>
    [Fact]
    public void ChunkSizesAreValidatedFromOneSnapshot()
    {
        const int seed = 7602;
        output.WriteLine($"seed {seed}");
        var sizes = new ShiftyList([4096, 65536], [3000, 70000]);
        ByteMap map;
        try
        {
            map = new ByteMap(new CMapConfig { ShardCount = 4, Seed = seed, ChunkSizes = sizes, BackgroundCompaction = false });
        }
        catch (ArgumentException e) when (e.ParamName == "ChunkSizes" || e.Message.Contains("ChunkSizes", StringComparison.Ordinal))
        {
            output.WriteLine($"rejected by the constructor ({sizes.Reads} element reads): {e.Message}");
            return;
        }

        output.WriteLine($"constructed after {sizes.Reads} element reads of ChunkSizes");
        NativeArena arena = map.ArenaForTests;
        try
        {
            var rng = new Random(seed);
            var model = new Dictionary<int, byte[]>();
            for (int i = 0; i < 10_000; i++)
            {
                int len = rng.Next(100) switch
                {
                    < 70 => rng.Next(0, 200),
                    < 95 => rng.Next(200, 3000),
                    < 99 => rng.Next(3000, 40_000),
                    _ => rng.Next(40_000, 150_000),
                };
                var v = new byte[len];
                rng.NextBytes(v);
                int k = rng.Next(6_000);
                model[k] = v;
                Exception? e = Record.Exception(() => map.Insert(BitConverter.GetBytes(k), v));
                Assert.True(e is null, $"insert #{i} ({len} B) into a map built from a ChunkSizes list that changed after it was read failed: {e}");
            }

            foreach ((int k, byte[] v) in model)
            {
                Assert.True(map.Get(BitConverter.GetBytes(k)).AsSpan().SequenceEqual(v), $"key {k} lost its value");
            }

            map.Compact();
            foreach ((int k, byte[] v) in model)
            {
                Assert.True(map.Get(BitConverter.GetBytes(k)).AsSpan().SequenceEqual(v), $"key {k} lost its value after Compact()");
            }

            Assert.Equal(model.Count, map.Count);
        }
        finally
        {
            map.Dispose();
        }

        Assert.Equal(0, arena.OutstandingBytes);
    }

    /// <summary><c>ChunkPolicy</c> ran user code under the shard lock; it is no longer part of the public API.</summary>
    [Fact]
    public void ChunkPolicyIsNotPublic()
    {
        Type[] exported = typeof(ByteMap).Assembly.GetExportedTypes();
        output.WriteLine("exported: " + string.Join(", ", exported.Select(t => t.FullName)));
        Type? policy = exported.FirstOrDefault(t => t.Name == "ChunkPolicy");
        Assert.True(policy is null, $"{policy?.FullName} is exported (public, unsealed: user code that runs under the shard lock)");
        PropertyInfo? property = typeof(CMapConfig).GetProperty("ChunkPolicy", BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static);
        Assert.True(property is null, $"CMapConfig has a public property {property?.Name} of type {property?.PropertyType.FullName}");
    }

    private static byte[] Key16(int i)
    {
        var k = new byte[16];
        BitConverter.TryWriteBytes(k, (long)i * 2654435761L);
        BitConverter.TryWriteBytes(k.AsSpan(8), ~(long)i);
        return k;
    }

    /// <summary>
    /// Returns <paramref name="first"/> for the first <c>Count</c> element reads (one pass, by indexer or enumerator)
    /// and <paramref name="later"/> for every read after that. <c>Count</c> is always the same.
    /// </summary>
    private sealed class ShiftyList(int[] first, int[] later) : IReadOnlyList<int>
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public int Count => first.Length;

        public int this[int index]
        {
            get
            {
                ArgumentOutOfRangeException.ThrowIfNegative(index);
                ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, first.Length);
                return Interlocked.Increment(ref _reads) <= first.Length ? first[index] : later[index];
            }
        }

        public IEnumerator<int> GetEnumerator()
        {
            for (int i = 0; i < first.Length; i++)
            {
                yield return this[i];
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
