using System;
using System.Collections.Generic;
using System.IO;
using CMap.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Snapshot;

public sealed class SnapshotTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(MapConfigurations.All), MemberType = typeof(MapConfigurations))]
    public void RoundTripsEveryEntryAndNeverResurrectsDeletedKeys(string config)
    {
        using var map = new ByteMap(MapConfigurations.Create(config));
        var expected = new Dictionary<long, byte[]>();
        for (int i = 0; i < 2000; i++)
        {
            byte[] value = MapConfigurations.Bytes(i % 11 == 0 ? 5000 : i % 300, i);
            map.Insert(MapConfigurations.Key(i), value);
            expected[i] = value;
        }

        for (int i = 0; i < 2000; i += 3)
        {
            map.Delete(MapConfigurations.Key(i)); // walmap's defect: deleted keys came back after restore
            expected.Remove(i);
        }

        var stream = new MemoryStream();
        CMapSnapshotInfo info = map.Snapshot(stream);
        Assert.Equal(expected.Count, info.Entries);
        Assert.Equal(stream.Length, info.StreamBytes);

        stream.Position = 0;
        using ByteMap restored = ByteMap.Restore(stream, new CMapConfig { Seed = 99, ShardCount = 8 }); // another seed and shape
        Assert.Equal(stream.Length, stream.Position); // read exactly to the end
        Assert.Equal(expected.Count, restored.Count);
        foreach ((long k, byte[] v) in expected)
        {
            Assert.Equal(v, restored.Get(MapConfigurations.Key((int)k)));
        }

        for (int i = 0; i < 2000; i += 3)
        {
            Assert.False(restored.ContainsKey(MapConfigurations.Key(i)));
        }

        // A restored map is fully usable (walmap's restored map crashed on its first Set).
        restored.Insert("new"u8, "value"u8);
        restored.Delete(MapConfigurations.Key(1));
        Assert.Equal("value"u8.ToArray(), restored.Get("new"u8));
        Assert.Equal(expected.Count, restored.Count);
    }

    [Fact]
    public void CarriesExpiryAndDropsWhatExpiredBeforeTheRestore()
    {
        var clock = new FakeTimeProvider();
        var config = new CMapConfig { Seed = 1, TimeProvider = clock, BackgroundCompaction = false };
        using var map = new ByteMap(config);
        map.Insert("forever"u8, "1"u8);
        map.Insert("ten"u8, "2"u8, CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(10)));
        map.Insert("thirty"u8, "3"u8, CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(30)));
        map.Insert("slide"u8, "4"u8, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(20)));
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.True(map.Refresh("slide"u8)); // last access at t = 5 s: leaves at 25 s

        var stream = new MemoryStream();
        map.Snapshot(stream);
        clock.Advance(TimeSpan.FromSeconds(10)); // t = 15 s: "ten" expired after the snapshot, before the restore
        stream.Position = 0;
        using ByteMap restored = ByteMap.Restore(stream, config);
        Assert.True(restored.ContainsKey("forever"u8));
        Assert.False(restored.ContainsKey("ten"u8));
        Assert.Equal(3, restored.Count);

        clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1)); // t = 25 s - 1 tick
        Assert.Contains("slide", Keys(restored)); // enumeration does not extend sliding expiry
        clock.Advance(TimeSpan.FromTicks(1)); // t = 25 s: 20 s after the last access before the snapshot
        Assert.DoesNotContain("slide", Keys(restored));
        Assert.True(restored.ContainsKey("thirty"u8));
        clock.Advance(TimeSpan.FromSeconds(5)); // t = 30 s
        Assert.False(restored.ContainsKey("thirty"u8));
        Assert.True(restored.ContainsKey("forever"u8));
    }

    private static List<string> Keys(ByteMap map)
    {
        var keys = new List<string>();
        foreach (ByteMap.Entry e in map)
        {
            keys.Add(System.Text.Encoding.ASCII.GetString(e.Key));
        }

        return keys;
    }

    [Fact]
    public void RejectsWhatBreaksTheRestoringConfigsLimits()
    {
        using var map = new ByteMap(new CMapConfig { Seed = 1 });
        map.Insert("k"u8, new byte[1000]);
        var stream = new MemoryStream();
        map.Snapshot(stream);
        stream.Position = 0;
        var ex = Assert.Throws<InvalidDataException>(() => ByteMap.Restore(stream, new CMapConfig { Seed = 1, MaxValueLength = 999 }));
        Assert.Contains("MaxValueLength", ex.Message, StringComparison.Ordinal);
        Assert.Contains("offset", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsDuplicateKeys()
    {
        // Two snapshots' sections spliced: the same key twice, with valid checksums everywhere but the stream's.
        using var map = new ByteMap(new CMapConfig { Seed = 1, ShardCount = 1 });
        map.Insert("k"u8, "v"u8);
        byte[] one = SnapshotOf(map);
        var ex = Assert.Throws<InvalidDataException>(() => ByteMap.Restore(new MemoryStream(Concat(one, one)), new CMapConfig { Seed = 1 }));
        output.WriteLine(ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(30)]
    [InlineData(-1)]
    public void RejectsTruncatedStreams(int keep)
    {
        using var map = new ByteMap(new CMapConfig { Seed = 1, ShardCount = 2 });
        for (int i = 0; i < 10; i++)
        {
            map.Insert(MapConfigurations.Key(i), MapConfigurations.Bytes(50, i));
        }

        byte[] full = SnapshotOf(map);
        int length = keep >= 0 ? keep : full.Length - 1;
        var ex = Assert.Throws<InvalidDataException>(() => ByteMap.Restore(new MemoryStream(full, 0, length), new CMapConfig { Seed = 1 }));
        output.WriteLine(ex.Message);
    }

    [Fact]
    public void RejectsAWrongMagicOrVersion()
    {
        using var map = new ByteMap(new CMapConfig { Seed = 1, ShardCount = 1 });
        byte[] good = SnapshotOf(map);
        byte[] magic = (byte[])good.Clone();
        magic[0] ^= 0x20;
        Assert.Contains("magic", Assert.Throws<InvalidDataException>(() => ByteMap.Restore(new MemoryStream(magic), new CMapConfig())).Message, StringComparison.Ordinal);
        byte[] version = (byte[])good.Clone();
        version[8] = 9;
        Assert.Contains("version 9", Assert.Throws<InvalidDataException>(() => ByteMap.Restore(new MemoryStream(version), new CMapConfig())).Message, StringComparison.Ordinal);
    }

    internal static byte[] SnapshotOf(ByteMap map)
    {
        var stream = new MemoryStream();
        map.Snapshot(stream);
        return stream.ToArray();
    }

    private static byte[] Concat(byte[] a, byte[] b)
    {
        // header + section of a, then b's section in place of a second shard: shard count patched to 2 with a fresh
        // header fingerprint, so only the duplicate (and the stream checksum, read last) are wrong.
        int header = 36;
        int footer = 32;
        var result = new List<byte>();
        result.AddRange(a[..header]);
        result.AddRange(a[header..^footer]);
        byte[] second = b[header..^footer];
        second[4] = 1; // section index 1
        result.AddRange(second);
        result.AddRange(a[^footer..]);
        byte[] bytes = [.. result];
        bytes[12] = 2;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(28), System.IO.Hashing.XxHash3.HashToUInt64(bytes.AsSpan(0, 28)));
        return bytes;
    }
}
