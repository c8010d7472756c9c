using System;
using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using CMap;
using CMap.Compaction;
using CMap.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests;

/// <summary>
/// Model-based tests: seeded random operation sequences run against the map and against a
/// <see cref="Dictionary{TKey, TValue}"/> with a content comparer; every result is checked, and so are the full
/// contents and the exact live-byte accounting. Set the environment variable CMAP_MODEL_SEED to replay or vary
/// the seeds (every failure message names the config, seed and operation).
/// </summary>
public sealed class ByteMapModelTests(ITestOutputHelper output)
{
    private const string OneShard = "one-shard";
    private const string SixtyFourShards = "64-shards";
    private const string TinyChunks = "tiny-chunks";
    private const string Mask7 = "mask-7-collisions";
    private const string Mask0 = "mask-0-same-hash";
    private const string ChaosPolicy = "chaos-chunk-policy";

    private const int SequencesPerConfig = 60;
    private const int OpsPerSequence = 800;

    public static TheoryData<string> Configurations => new() { OneShard, SixtyFourShards, TinyChunks, Mask7, Mask0, ChaosPolicy };

    /// <summary>The base seed: CMAP_MODEL_SEED when set (decimal), else a fixed value so CI is reproducible.</summary>
    internal static int BaseSeed
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable("CMAP_MODEL_SEED");
            return env is not null && int.TryParse(env, NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s : 20_261_122;
        }
    }

    /// <summary>
    /// Background compaction is off except for <see cref="SixtyFourShards"/>: its thread moves bytes between the
    /// chunk counters while they are read, so only Count and LiveBytes (which it never changes) are exact there.
    /// The others compact through explicit <see cref="ByteMap.Compact"/> operations in the sequence, and through
    /// forced background-style passes run inline by a <see cref="ManualCompactionScheduler"/> whenever a shard has
    /// asked for one (thresholds: the default dead ratio, no minimum size).
    /// </summary>
    internal static CMapConfig CreateConfig(string name, int seed, ManualCompactionScheduler? scheduler = null) => name switch
    {
        OneShard => new CMapConfig { ShardCount = 1, Seed = (ulong)seed, BackgroundCompaction = false, CompactionMinDeadBytes = 0, CompactionSchedulerFactory = scheduler is null ? null : () => scheduler },
        SixtyFourShards => new CMapConfig { ShardCount = 64, Seed = (ulong)seed, CompactionMinDeadBytes = 1024 },
        // Tiny chunks, nothing retained: every few entries seal a chunk, values over ~476 bytes go oversize,
        // and (with no pool) native bytes must equal exactly what the shards, tables and retire list hold.
        TinyChunks => new CMapConfig { ShardCount = 4, Seed = (ulong)seed, ChunkSizes = [1024, 2048], MaxRetainedChunkBytes = 0, BackgroundCompaction = false, CompactionMinDeadBytes = 0, CompactionSchedulerFactory = scheduler is null ? null : () => scheduler },
        // Hash folded to 3 bits: one shard of the two, one tag, eight first slots. Long probe chains of foreign keys.
        Mask7 => new CMapConfig { ShardCount = 2, Seed = (ulong)seed, HashMask = 0x7, BackgroundCompaction = false, CompactionMinDeadBytes = 0, CompactionSchedulerFactory = scheduler is null ? null : () => scheduler },
        // Every key has the same 64-bit hash: only the full key comparison tells them apart.
        Mask0 => new CMapConfig { ShardCount = 1, Seed = (ulong)seed, HashMask = 0, BackgroundCompaction = false, CompactionMinDeadBytes = 0, CompactionSchedulerFactory = scheduler is null ? null : () => scheduler },
        // A random size class at every new chunk, among four small classes.
        ChaosPolicy => new CMapConfig { ShardCount = 2, Seed = (ulong)seed, ChunkSizes = [1024, 2048, 4096, 8192], ChunkPolicy = new ModelChaosChunkPolicy(seed), MaxRetainedChunkBytes = 0, BackgroundCompaction = false, CompactionMinDeadBytes = 0, CompactionSchedulerFactory = scheduler is null ? null : () => scheduler },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void RandomSequencesMatchTheDictionaryModel(string config)
    {
        var sw = Stopwatch.StartNew();
        long ops = 0, compacted = 0;
        int baseSeed = BaseSeed;
        for (int s = 0; s < SequencesPerConfig; s++)
        {
            int seed = unchecked(baseSeed + (s * 7919) + config.Length);
            using var run = new ModelRun(config, seed, includeHugeKeys: s % 6 == 0);
            run.Execute(OpsPerSequence);
            ops += run.OpsExecuted;
            compacted += run.ChunksCompacted;
        }

        output.WriteLine($"config {config}: base seed {baseSeed}, {SequencesPerConfig} sequences, {ops} operations, {compacted} chunks compacted in {sw.ElapsedMilliseconds} ms");
        Assert.True(compacted > 0, $"config {config}: no compaction step ever moved a chunk, so the model never checked compaction");
    }

    /// <summary>
    /// The same model, driven by FsCheck so that a failure shrinks to a minimal operation list. Each int of the
    /// generated array encodes one operation (kind, key, value length). Fixed replay seed: deterministic.
    /// </summary>
    [Fact]
    public void FsCheckShrinkableOperationListsMatchTheModel()
    {
        ulong replaySeed = (ulong)BaseSeed;
        output.WriteLine($"FsCheck replay seed {replaySeed}");
        Config cfg = Config.QuickThrowOnFailure
            .WithMaxTest(150)
            .WithEndSize(200)
            .WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(replaySeed), FSharpOption<int>.None)));
        Check.One(cfg, Prop.ForAll<int[]>(static codes => RunEncoded(codes, Mask7) && RunEncoded(codes, TinyChunks)));
    }

    [Fact]
    public void KeyOneByteOverTheLimitThrowsNamingTheLimitAndChangesNothing()
    {
        using var map = new ByteMap(CreateConfig(OneShard, 1));
        byte[] maxKey = new byte[ByteMap.MaxKeyLength];
        new Random(5).NextBytes(maxKey);
        byte[] tooLong = [.. maxKey, 0x42];
        Assert.True(map.Insert(maxKey, "at-the-limit"u8));
        Assert.True(map.Insert("other"u8, "x"u8));
        long live = map.GetStatistics().LiveBytes;
        Assert.Equal(ModelRules.EntrySize(ByteMap.MaxKeyLength, 12) + ModelRules.EntrySize(5, 1), live);

        AssertKeyTooLong(() => map.Insert(tooLong, "v"u8));
        AssertKeyTooLong(() => map.TryAdd(tooLong, "v"u8));
        AssertKeyTooLong(() => map.GetOrInsert(tooLong, "v"u8, out _));
        AssertKeyTooLong(() => map.Delete(tooLong));

        // Reads of an impossible key are bad input too, never a miss (failure 7).
        AssertKeyTooLong(() => map.Get(tooLong));
        AssertKeyTooLong(() => map.ContainsKey(tooLong));
        AssertKeyTooLong(() => map.TryGet(tooLong, new byte[16], out _));
        AssertKeyTooLong(() => map.TryGet(tooLong, new System.Buffers.ArrayBufferWriter<byte>()));
        AssertKeyTooLong(() => map.TryRead(tooLong, 0, static (_, _) => { }));

        Assert.Equal(2, map.Count);
        Assert.Equal(live, map.GetStatistics().LiveBytes);
        Assert.Equal("at-the-limit"u8.ToArray(), map.Get(maxKey));
        Assert.False(map.Insert(maxKey, "replaced"u8));
        Assert.Equal("replaced"u8.ToArray(), map.Get(maxKey));
        Assert.True(map.Delete(maxKey));
        Assert.Equal(1, map.Count);

        static void AssertKeyTooLong(Action call)
        {
            var ex = Assert.Throws<ArgumentException>(call);
            Assert.True(
                ex.Message.Contains("65,535", StringComparison.Ordinal) || ex.Message.Contains("65535", StringComparison.Ordinal),
                $"the message should name the 65,535-byte limit: {ex.Message}");
        }
    }

    /// <summary>The header switches from 4 to 8 bytes at key 256 and at value 4 MiB; LiveBytes must follow exactly.</summary>
    [Theory]
    [InlineData(OneShard)]
    [InlineData(TinyChunks)]
    public void HeaderFormBoundariesAreAccountedExactly(string config)
    {
        using var map = new ByteMap(CreateConfig(config, 2));
        var model = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        var rng = new Random(77);
        (int Key, int Value)[] shapes =
        [
            (0, 0), (255, 0), (256, 0), (1, (4 << 20) - 1), (2, 4 << 20), (255, (4 << 20) - 1), (256, (4 << 20) - 1),
            (255, 4 << 20), (3, 1), (ByteMap.MaxKeyLength, 0), (ByteMap.MaxKeyLength, 300),
        ];
        for (int i = 0; i < shapes.Length; i++)
        {
            byte[] key = new byte[shapes[i].Key];
            rng.NextBytes(key);
            if (key.Length > 0)
            {
                key[0] = (byte)i; // distinct keys even when lengths repeat (the empty key appears once)
            }

            byte[] value = new byte[shapes[i].Value];
            rng.NextBytes(value);
            Assert.True(map.Insert(key, value), $"shape {i} should be new");
            model[key] = value;
            Assert.Equal(ModelRules.LiveBytes(model), map.GetStatistics().LiveBytes);
        }

        foreach (KeyValuePair<byte[], byte[]> kv in model)
        {
            Assert.True(kv.Value.AsSpan().SequenceEqual(map.Get(kv.Key)), $"key of {kv.Key.Length} bytes, value of {kv.Value.Length}");
        }

        // Overwrite each across the boundary in the other direction, then delete: accounting returns to 0.
        foreach (byte[] key in model.Keys.ToList())
        {
            byte[] value = new byte[model[key].Length >= (4 << 20) ? 10 : Math.Min((4 << 20) + 1, model[key].Length + (4 << 20))];
            Assert.False(map.Insert(key, value));
            model[key] = value;
            Assert.Equal(ModelRules.LiveBytes(model), map.GetStatistics().LiveBytes);
        }

        foreach (byte[] key in model.Keys.ToList())
        {
            Assert.True(map.Delete(key));
            model.Remove(key);
            Assert.Equal(ModelRules.LiveBytes(model), map.GetStatistics().LiveBytes);
        }

        Assert.Equal(0, map.Count);
    }

    /// <summary>
    /// docs/concurrency.md I8 and docs/design.md "Large values": an entry larger than half a chunk's payload gets a
    /// block of its own, "so large values never fragment chunks". Checked through OversizeBytes, which counts
    /// exactly the dedicated blocks.
    /// </summary>
    [Fact]
    public void AnEntryLargerThanHalfAChunkPayloadAlwaysGetsItsOwnBlock()
    {
        // One class of 4 KiB chunks: payload 4096 - 64 (header) - 8 (tail padding) = 4024, half = 2012.
        using var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 9, ChunkSizes = [4096] });
        Assert.True(map.Insert("small"u8, new byte[16]));   // opens a chunk that still has ~4 KB of room
        Assert.Equal(0, map.GetStatistics().OversizeBytes);

        byte[] large = new byte[3000];                         // entry of 4 + 5 + 3000 = 3009 bytes > 2012
        new Random(3).NextBytes(large);
        Assert.True(map.Insert("large"u8, large));
        Assert.Equal(large, map.Get("large"u8));
        CMapStatistics stats = map.GetStatistics();
        Assert.True(
            stats.OversizeBytes >= 3009,
            $"a 3,009-byte entry (more than half of a 4,024-byte payload) was appended to the open chunk instead of a block of its own: OversizeBytes={stats.OversizeBytes}, ChunkBytes={stats.ChunkBytes}");
    }

    /// <summary>A callback that throws leaves its read region: reclamation goes on and Dispose is not refused afterwards.</summary>
    [Fact]
    public void ATryReadCallbackThatThrowsLeavesItsReadRegion()
    {
        var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 12, ChunkSizes = [1024], BackgroundCompaction = false });
        map.Insert("k"u8, "v"u8);
        var ex = Assert.Throws<InvalidOperationException>(() => map.TryRead("k"u8, 0, static (_, _) => throw new InvalidOperationException("from the callback")));
        Assert.Equal("from the callback", ex.Message);

        // Retire a lot; with this thread no longer announced, a drain frees all of it.
        for (int i = 0; i < 2000; i++)
        {
            map.Insert("k"u8, new byte[100]);
        }

        map.RetiredForTests.TryDrain();
        Assert.Equal(0, map.RetiredForTests.PendingCount);
        map.Dispose(); // would throw InvalidOperationException if the thread were still inside a region
        Assert.Equal(0, map.ArenaForTests.OutstandingBytes);
    }

    /// <summary>Two keys with the same 64-bit hash, and keys that are prefixes of each other, all stay distinct.</summary>
    [Fact]
    public void PrefixKeysAndSameHashKeysStayDistinctThroughRebuilds()
    {
        using var map = new ByteMap(CreateConfig(Mask0, 3));
        var model = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        byte[] stem = "prefix-stem"u8.ToArray();
        for (int len = 0; len <= stem.Length; len++)
        {
            byte[] key = stem[..len];
            byte[] value = Encoding.ASCII.GetBytes($"v{len}");
            Assert.True(map.Insert(key, value));
            model[key] = value;
        }

        // Enough same-hash keys to force several growths, then deletes to force the shrink, all on one probe chain.
        for (int i = 0; i < 300; i++)
        {
            byte[] key = [.. stem, (byte)(i & 0xFF), (byte)(i >> 8)];
            Assert.True(map.Insert(key, BitConverter.GetBytes(i)));
            model[key] = BitConverter.GetBytes(i);
        }

        for (int i = 0; i < 300; i += 3)
        {
            byte[] key = [.. stem, (byte)(i & 0xFF), (byte)(i >> 8)];
            Assert.True(map.Delete(key));
            model.Remove(key);
        }

        Assert.True(map.GetStatistics().IndexRebuilds > 0);
        Assert.Equal(model.Count, map.Count);
        foreach (KeyValuePair<byte[], byte[]> kv in model)
        {
            Assert.Equal(kv.Value, map.Get(kv.Key));
        }

        Assert.Equal(ModelRules.LiveBytes(model), map.GetStatistics().LiveBytes);
    }

    /// <summary>Decodes each int into an operation and runs the list against the model; false on the first mismatch.</summary>
    private static bool RunEncoded(int[] codes, string config)
    {
        using var map = new ByteMap(CreateConfig(config, 11));
        var model = new Dictionary<byte[], byte[]>(ModelByteArrayComparer.Instance);
        byte[][] keys = [[], [0], [0, 0], [1], [1, 0], "key"u8.ToArray(), "key2"u8.ToArray(), new byte[255], new byte[256], new byte[300]];
        keys[8][0] = 1;
        keys[9][0] = 2;
        foreach (int code in codes)
        {
            uint c = (uint)code;
            byte[] key = keys[(c >> 3) % (uint)keys.Length];
            int valueLength = (int)((c >> 8) % 1500);
            byte[] value = new byte[valueLength];
            new Random(code).NextBytes(value);
            bool present = model.TryGetValue(key, out byte[]? old);
            bool ok;
            switch (c & 7)
            {
                case 0:
                case 1:
                    ok = map.Insert(key, value) == !present;
                    model[key] = value;
                    break;
                case 2:
                    ok = map.TryAdd(key, value) == !present;
                    model.TryAdd(key, value);
                    break;
                case 3:
                    byte[] got = map.GetOrInsert(key, value, out bool inserted);
                    ok = inserted == !present && got.AsSpan().SequenceEqual(present ? old : value);
                    model.TryAdd(key, value);
                    break;
                case 4:
                    ok = map.Delete(key) == present;
                    model.Remove(key);
                    break;
                case 5:
                    byte[]? v = map.Get(key);
                    ok = present ? v is not null && v.AsSpan().SequenceEqual(old) : v is null;
                    break;
                case 6:
                    var buffer = new byte[Math.Max(0, (old?.Length ?? 4) - 1)];
                    bool copied = map.TryGet(key, buffer, out int written);
                    ok = present ? (old!.Length == 0 ? copied && written == 0 : !copied && written == old.Length) : !copied && written == 0;
                    break;
                default:
                    map.Clear();
                    model.Clear();
                    ok = true;
                    break;
            }

            if (!ok || map.Count != model.Count || map.GetStatistics().LiveBytes != ModelRules.LiveBytes(model))
            {
                return false;
            }
        }

        foreach (byte[] key in keys)
        {
            byte[]? v = map.Get(key);
            if (model.TryGetValue(key, out byte[]? expected) ? v is null || !v.AsSpan().SequenceEqual(expected) : v is not null)
            {
                return false;
            }
        }

        map.Dispose();
        return map.ArenaForTests.OutstandingBytes == 0;
    }

    /// <summary>One seeded operation sequence against one map and its model.</summary>
    private sealed class ModelRun : IDisposable
    {
        private const int RecentOps = 24;

        private readonly string _config;
        private readonly int _seed;
        private readonly Random _rng;
        private readonly ByteMap _map;
        private readonly Dictionary<byte[], byte[]> _model = new(ModelByteArrayComparer.Instance);
        private readonly List<byte[]> _keys;
        private readonly Queue<string> _recent = new();
        private readonly bool _exactNativeBytes;
        private readonly bool _backgroundCompaction;
        private readonly ManualCompactionScheduler _scheduler = new();
        private int _opIndex;

        public ModelRun(string config, int seed, bool includeHugeKeys)
        {
            _config = config;
            _seed = seed;
            _rng = new Random(seed);
            _map = new ByteMap(CreateConfig(config, seed, _scheduler));
            _keys = MakeKeyPool(_rng, includeHugeKeys);
            _exactNativeBytes = config is TinyChunks or ChaosPolicy;
            _backgroundCompaction = config == SixtyFourShards;
        }

        public long OpsExecuted => _opIndex;

        public long ChunksCompacted => _map.GetStatistics().ChunksCompacted;

        public void Dispose()
        {
            _map.Dispose();
            Check(_map.ArenaForTests.OutstandingBytes == 0, $"after Dispose the arena still holds {_map.ArenaForTests.OutstandingBytes} bytes");
        }

        public void Execute(int count)
        {
            for (int i = 0; i < count; i++)
            {
                Step();
                _opIndex++;
            }

            VerifyAll("final");
        }

        private static List<byte[]> MakeKeyPool(Random rng, bool includeHugeKeys)
        {
            var set = new HashSet<byte[]>(ModelByteArrayComparer.Instance) { Array.Empty<byte>(), new byte[] { 0 }, new byte[] { 0, 0 } };
            int[] lengths = [1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 254, 255, 256, 257, 300];
            foreach (int len in lengths)
            {
                set.Add(RandomBytes(rng, len));
            }

            for (int i = 0; i < 10; i++)
            {
                set.Add(RandomBytes(rng, rng.Next(1, 301)));
            }

            // Near-identical keys: a prefix and its extension, and a key that differs only in its last byte.
            byte[] baseKey = RandomBytes(rng, 40);
            set.Add(baseKey);
            set.Add(baseKey[..39]);
            set.Add([.. baseKey, 0]);
            byte[] lastDiffers = (byte[])baseKey.Clone();
            lastDiffers[^1] ^= 1;
            set.Add(lastDiffers);
            if (includeHugeKeys)
            {
                set.Add(RandomBytes(rng, 1000));
                set.Add(RandomBytes(rng, ByteMap.MaxKeyLength - 1));
                set.Add(RandomBytes(rng, ByteMap.MaxKeyLength));
            }

            return [.. set];
        }

        private static byte[] RandomBytes(Random rng, int length)
        {
            var b = new byte[length];
            rng.NextBytes(b);
            return b;
        }

        private byte[] NextValue()
        {
            int r = _rng.Next(1000);
            int len = r switch
            {
                < 50 => 0,
                < 600 => _rng.Next(1, 65),
                < 850 => _rng.Next(65, 1001),
                < 985 => _rng.Next(1001, 5001),
                < 995 => _rng.Next(20_000, 40_000),
                _ => 100_000 + _rng.Next(1000),
            };
            return RandomBytes(_rng, len);
        }

        private void Log(string op)
        {
            if (_recent.Count == RecentOps)
            {
                _recent.Dequeue();
            }

            _recent.Enqueue($"#{_opIndex} {op}");
        }

        private void Check(bool condition, string what)
        {
            if (!condition)
            {
                Assert.Fail($"MODEL MISMATCH config={_config} seed={_seed} op#{_opIndex}: {what}\nrecent operations:\n  {string.Join("\n  ", _recent)}");
            }
        }

        private void CheckValue(byte[]? expected, ReadOnlySpan<byte> actual, bool actualIsNull, string what)
        {
            if (expected is null)
            {
                Check(actualIsNull, $"{what}: expected absent, got {ModelRules.Describe(actual)}");
            }
            else
            {
                Check(!actualIsNull, $"{what}: expected {ModelRules.Describe(expected)}, got null");
                int diff = ModelRules.FirstDifference(expected, actual);
                Check(diff < 0, $"{what}: expected {ModelRules.Describe(expected)}, got {ModelRules.Describe(actual)} (first difference at {diff})");
            }
        }

        private void CheckCount() => Check(_map.Count == _model.Count, $"Count {_map.Count} != model {_model.Count}");

        private void Step()
        {
            byte[] key = _keys[_rng.Next(_keys.Count)];
            string k = ModelRules.Describe(key);
            _model.TryGetValue(key, out byte[]? current);
            int roll = _rng.Next(1000);
            switch (roll)
            {
                case < 240:
                {
                    byte[] value = NextValue();
                    Log($"Insert {k} <- {ModelRules.Describe(value)}");
                    bool added = _map.Insert(key, value);
                    Check(added == (current is null), $"Insert returned {added}, key was {(current is null ? "absent" : "present")}");
                    _model[key] = value;
                    CheckCount();
                    break;
                }

                case < 320:
                {
                    byte[] value = NextValue();
                    Log($"TryAdd {k} <- {ModelRules.Describe(value)}");
                    bool added = _map.TryAdd(key, value);
                    Check(added == (current is null), $"TryAdd returned {added}, key was {(current is null ? "absent" : "present")}");
                    _model.TryAdd(key, value);
                    CheckCount();
                    break;
                }

                case < 400:
                {
                    byte[] value = NextValue();
                    Log($"GetOrInsert {k} <- {ModelRules.Describe(value)}");
                    byte[] got = _map.GetOrInsert(key, value, out bool inserted);
                    Check(inserted == (current is null), $"GetOrInsert inserted={inserted}, key was {(current is null ? "absent" : "present")}");
                    CheckValue(current ?? value, got, false, "GetOrInsert result");
                    _model.TryAdd(key, value);
                    CheckCount();
                    break;
                }

                case < 520:
                {
                    Log($"Delete {k}");
                    bool removed = _map.Delete(key);
                    Check(removed == (current is not null), $"Delete returned {removed}, key was {(current is null ? "absent" : "present")}");
                    _model.Remove(key);
                    CheckCount();
                    break;
                }

                case < 610:
                {
                    Log($"Get {k}");
                    byte[]? got = _map.Get(key);
                    CheckValue(current, got, got is null, "Get");
                    break;
                }

                case < 700:
                    TryGetSpan(key, k, current);
                    break;

                case < 760:
                {
                    var writer = new ArrayBufferWriter<byte>();
                    byte[] prefix = RandomBytes(_rng, _rng.Next(4));
                    writer.Write(prefix);
                    Log($"TryGet(IBufferWriter) {k} after a {prefix.Length}-byte prefix");
                    bool found = _map.TryGet(key, writer);
                    Check(found == (current is not null), $"TryGet(IBufferWriter) returned {found}");
                    Check(writer.WrittenSpan[..prefix.Length].SequenceEqual(prefix), "TryGet(IBufferWriter) overwrote what the writer already held");
                    CheckValue(current ?? [], writer.WrittenSpan[prefix.Length..], false, "TryGet(IBufferWriter) appended bytes");
                    break;
                }

                case < 820:
                    TryRead(key, k, current);
                    break;

                case < 880:
                {
                    Log($"ContainsKey {k}");
                    Check(_map.ContainsKey(key) == (current is not null), "ContainsKey");
                    break;
                }

                case < 920:
                    Log("Count");
                    CheckCount();
                    break;

                case < 945:
                    Log("GetStatistics");
                    CheckStatistics();
                    break;

                case < 965:
                {
                    // A forced compaction pass, as the background thread would run it, but inline.
                    bool ran = _scheduler.RunPending();
                    Log($"RunPendingCompaction (ran: {ran})");
                    CheckStatistics();
                    Check(_map.GetStatistics().CompactionErrors == 0, $"compaction pass failed: {_map.GetStatistics().LastCompactionError}");
                    break;
                }

                case < 975 when _rng.Next(2) == 0:
                {
                    Log("Compact");
                    int chunks = _map.Compact();
                    Check(chunks >= 0, $"Compact returned {chunks}");
                    CheckStatistics();
                    if (!_backgroundCompaction)
                    {
                        Check(_map.GetStatistics().PendingRetiredBytes == 0, "Compact returned before freeing what it retired");
                    }

                    break;
                }

                case < 975:
                    Log("Clear");
                    _map.Clear();
                    _model.Clear();
                    CheckCount();
                    CheckStatistics();
                    break;

                default:
                    Log("TryDrain + full verification");
                    _map.RetiredForTests.TryDrain();
                    VerifyAll("mid-sequence");
                    break;
            }
        }

        private void TryGetSpan(byte[] key, string k, byte[]? current)
        {
            const byte sentinel = 0xEE;
            int size = current is null
                ? _rng.Next(0, 64)
                : _rng.Next(5) switch
                {
                    0 => current.Length,
                    1 => current.Length + 1 + _rng.Next(64),
                    2 => current.Length == 0 ? 0 : current.Length - 1,
                    3 => current.Length == 0 ? 0 : _rng.Next(current.Length),
                    _ => 0,
                };
            byte[] buffer = new byte[size];
            buffer.AsSpan().Fill(sentinel);
            Log($"TryGet(span[{size}]) {k}");
            bool copied = _map.TryGet(key, buffer, out int written);
            if (current is null)
            {
                Check(!copied && written == 0, $"TryGet on an absent key returned {copied}, written={written}");
                Check(StressValue.LongestRun(buffer, sentinel) == size, "TryGet on an absent key wrote to the buffer");
            }
            else if (current.Length <= size)
            {
                Check(copied && written == current.Length, $"TryGet into {size} bytes of a {current.Length}-byte value returned {copied}, written={written}");
                CheckValue(current, buffer.AsSpan(0, written), false, "TryGet(span)");
                Check(StressValue.LongestRun(buffer.AsSpan(written), sentinel) == size - written, "TryGet wrote past the value's length");
            }
            else
            {
                Check(!copied && written == current.Length, $"TryGet into a too-small buffer ({size} < {current.Length}) returned {copied}, written={written} (must be false and the needed length)");
                Check(StressValue.LongestRun(buffer, sentinel) == size, "TryGet into a too-small buffer wrote to it");
            }
        }

        private void TryRead(byte[] key, string k, byte[]? current)
        {
            bool nested = _rng.Next(4) == 0;
            byte[] other = _keys[_rng.Next(_keys.Count)];
            Log($"TryRead {k}{(nested ? $" with nested Get {ModelRules.Describe(other)}" : string.Empty)}");
            var state = new ReadState { Map = _map, Nested = nested ? other : null };
            bool found = _map.TryRead(key, state, static (span, s) =>
            {
                s.Calls++;
                s.Seen = span.ToArray();
                if (s.Nested is not null)
                {
                    s.NestedValue = s.Map!.Get(s.Nested);
                    s.NestedContains = s.Map.ContainsKey(s.Nested);
                }
            });
            Check(found == (current is not null), $"TryRead returned {found}");
            Check(state.Calls == (found ? 1 : 0), $"TryRead called the callback {state.Calls} times (found={found})");
            if (found)
            {
                CheckValue(current, state.Seen, state.Seen is null, "TryRead span");
            }

            if (nested && found)
            {
                _model.TryGetValue(other, out byte[]? expectedOther);
                CheckValue(expectedOther, state.NestedValue, state.NestedValue is null, "Get nested in a TryRead callback");
                Check(state.NestedContains == (expectedOther is not null), "ContainsKey nested in a TryRead callback");
            }
        }

        private void CheckStatistics()
        {
            CMapStatistics s = _map.GetStatistics();
            long expectedLive = ModelRules.LiveBytes(_model);
            Check(s.Count == _model.Count, $"statistics Count {s.Count} != model {_model.Count}");
            Check(s.LiveBytes == expectedLive, $"LiveBytes {s.LiveBytes} != Σ entry sizes {expectedLive} over {_model.Count} entries");
            if (_backgroundCompaction)
            {
                return; // the compactor moves the other counters while they are read
            }

            Check(s.DeadBytes >= 0 && s.ChunkBytes >= 0 && s.OversizeBytes >= 0 && s.IndexBytes > 0 && s.PendingRetiredBytes >= 0, $"negative or zero counter: {s}");
            Check(s.CompactionErrors == 0, $"compaction failed: {s.LastCompactionError}");
            Check(s.LiveBytes + s.DeadBytes <= s.ChunkBytes + s.OversizeBytes, $"live + dead exceed the chunk and oversize bytes held: {s}");
            Check(s.NativeBytes == _map.ArenaForTests.OutstandingBytes, $"NativeBytes {s.NativeBytes} != arena outstanding {_map.ArenaForTests.OutstandingBytes}");
            long held = s.ChunkBytes + s.OversizeBytes + s.IndexBytes + s.PendingRetiredBytes;
            if (_exactNativeBytes)
            {
                Check(s.NativeBytes == held, $"with no chunk pool, NativeBytes {s.NativeBytes} != chunks + oversize + index + pending retired = {held}: {s}");
            }
            else
            {
                Check(s.NativeBytes >= held, $"NativeBytes {s.NativeBytes} < chunks + oversize + index + pending retired = {held}: {s}");
            }
        }

        private void VerifyAll(string when)
        {
            foreach (byte[] key in _keys)
            {
                _model.TryGetValue(key, out byte[]? expected);
                byte[]? got = _map.Get(key);
                CheckValue(expected, got, got is null, $"{when} Get {ModelRules.Describe(key)}");
                Check(_map.ContainsKey(key) == (expected is not null), $"{when} ContainsKey {ModelRules.Describe(key)}");
            }

            CheckCount();
            CheckStatistics();
        }
    }

    private sealed class ReadState
    {
        public ByteMap? Map;
        public byte[]? Nested;
        public byte[]? Seen;
        public byte[]? NestedValue;
        public bool NestedContains;
        public int Calls;
    }
}
