using System;
using System.Collections.Generic;
using CMap;
using CMap.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using Xunit.Abstractions;
using static CMap.Tests.Support.CacheTestKit;

namespace CMap.Tests.Cache;

/// <summary>
/// How writes and Refresh meet expiry: an overwrite's options replace the old ones (a plain Insert clears expiry); an
/// expired entry is absent to TryAdd, GetOrInsert, Insert's result and Delete; Refresh answers presence and extends only
/// sliding entries; options with a span that is not positive throw ArgumentOutOfRangeException and change nothing; and
/// an entry without expiry costs no byte more than on a map without a clock or budget.
/// </summary>
public sealed class ExpiryWriteTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_tick = TimeSpan.FromTicks(1);

    [Theory]
    [MemberData(nameof(ExpiryConfigs), MemberType = typeof(CacheTestKit))]
    public void RefreshAnswersPresenceAndExtendsOnlySlidingEntries(string config)
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(config, time));
        byte[] v = Value(64, 1);
        DateTimeOffset t0 = time.GetUtcNow();
        map.Insert("plain"u8, v);
        map.Insert("absolute"u8, v, CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(3)));
        map.Insert("sliding"u8, v, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(4)));
        map.Insert("sliding-twin"u8, v, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(4)));

        Assert.False(map.Refresh("absent"u8));
        Assert.True(map.Refresh("plain"u8));
        Assert.True(map.Refresh(ReadOnlySpan<byte>.Empty) == false, "the empty key is a valid, absent key");

        time.SetUtcNow(t0 + TimeSpan.FromSeconds(2));
        Assert.True(map.Refresh("absolute"u8));
        Assert.True(map.Refresh("sliding"u8));
        Assert.True(map.Refresh("sliding-twin"u8));

        // The absolute entry was not extended by Refresh.
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(3));
        Assert.False(map.Refresh("absolute"u8), "Refresh of an expired entry must be false");
        AssertAbsent(map, "absolute"u8, "absolute entry after Refresh at 2 s, at its 3 s instant");

        // The sliding ones now end at 2 s + 4 s.
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(6) - s_tick);
        Assert.Equal(v, map.Get("sliding"u8));
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(6));
        Assert.False(map.Refresh("sliding-twin"u8), "Refresh of an expired sliding entry must be false and must not revive it");
        Assert.Null(map.Get("sliding-twin"u8));
        Assert.True(map.Refresh("plain"u8));
        Assert.Throws<ArgumentException>(() => map.Refresh(new byte[ByteMap.MaxKeyLength + 1]));
        DisposeAndAssertNoNativeBytes(map, config);
    }

    public static TheoryData<string, string> OverwriteCases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string c in new[] { OneShard, TinyChunks, Budgeted, BudgetedTinyChunks })
            {
                foreach (string kind in new[] { "longer", "shorter", "plain-clears", "default-clears", "sliding-to-absolute", "absolute-to-sliding", "plain-to-expiring" })
                {
                    data.Add(c, kind);
                }
            }

            return data;
        }
    }

    /// <summary>The first write's options, the overwrite's (null: a plain Insert) and how long after the overwrite it ends (null: never).</summary>
    private static (CMapEntryOptions? First, CMapEntryOptions? Second, TimeSpan? Ends) OverwriteCase(string kind) => kind switch
    {
        "longer" => (CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(5)), CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(10)), TimeSpan.FromSeconds(10)),
        "shorter" => (CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(10)), CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(2)), TimeSpan.FromSeconds(2)),
        "plain-clears" => (CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)), (CMapEntryOptions?)null, (TimeSpan?)null),
        "default-clears" => (CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)), default(CMapEntryOptions), null),
        "sliding-to-absolute" => (CMapEntryOptions.Sliding(TimeSpan.FromSeconds(1)), CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(5)), TimeSpan.FromSeconds(5)),
        "absolute-to-sliding" => (CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)), CMapEntryOptions.Sliding(TimeSpan.FromSeconds(5)), TimeSpan.FromSeconds(5)),
        "plain-to-expiring" => ((CMapEntryOptions?)null, CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(3)), TimeSpan.FromSeconds(3)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(OverwriteCases))]
    public void AnOverwritesOptionsReplaceTheOldOnes(string config, string kind)
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(config, time));
        byte[] v1 = Value(80, 1), v2 = Value(90, 2);
        DateTimeOffset t0 = time.GetUtcNow();
        (CMapEntryOptions? first, CMapEntryOptions? second, TimeSpan? ends) = OverwriteCase(kind);
        Assert.True(first is { } f ? map.Insert("k"u8, v1, f) : map.Insert("k"u8, v1));
        Assert.True(map.Insert("twin"u8, v1, first ?? default));

        // The overwrite is 0.5 s after the first write: a replaced live value, so Insert is false.
        time.SetUtcNow(t0 + TimeSpan.FromMilliseconds(500));
        DateTimeOffset t1 = time.GetUtcNow();
        Assert.False(second is { } s ? map.Insert("k"u8, v2, s) : map.Insert("k"u8, v2));
        Assert.False(map.Insert("twin"u8, v2, second ?? default));
        if (ends is { } e)
        {
            time.SetUtcNow(t1 + e - s_tick);
            AssertPresent(map, "k"u8, v2, $"{kind}: one tick before the new instant");
            time.SetUtcNow(t1 + e);
            AssertAbsent(map, "twin"u8, $"{kind}: at the new instant");
        }
        else
        {
            time.SetUtcNow(t0 + TimeSpan.FromHours(1));
            AssertPresent(map, "k"u8, v2, $"{kind}: an hour after the old instant");
            AssertPresent(map, "twin"u8, v2, $"{kind}: an hour after the old instant");

            // And it costs what a plain entry costs.
            Assert.Equal(PlainEntrySize(1, v2.Length) + PlainEntrySize(4, v2.Length), map.GetStatistics().LiveBytes);
        }

        DisposeAndAssertNoNativeBytes(map, config);
    }

    [Theory]
    [MemberData(nameof(ExpiryConfigs), MemberType = typeof(CacheTestKit))]
    public void WritesTreatAnExpiredEntryAsAbsent(string config)
    {
        FakeTimeProvider time = NewClock();

        // A day between sweeps: only the writes below can find the expired entries.
        var map = new ByteMap(Create(config, time, scanInterval: TimeSpan.FromDays(1)));
        byte[] old = Value(70, 1), fresh = Value(75, 2);
        string[] names = ["insert", "tryadd", "tryadd-plain", "getorinsert", "getorinsert-plain", "delete"];
        foreach (string n in names)
        {
            map.Insert(System.Text.Encoding.ASCII.GetBytes(n), old, CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(1)));
        }

        // Still live: add-only writes leave them alone.
        Assert.False(map.TryAdd("tryadd"u8, fresh, CMapEntryOptions.ExpireAfter(TimeSpan.FromHours(1))));
        Assert.Equal(old, map.GetOrInsert("getorinsert"u8, fresh, CMapEntryOptions.ExpireAfter(TimeSpan.FromHours(1)), out bool inserted));
        Assert.False(inserted);

        // Expired, and not yet removed: no sweep has run and no read removes anything.
        time.Advance(TimeSpan.FromSeconds(1));
        CMapStatistics before = map.GetStatistics();
        Assert.Equal(names.Length, before.Count);
        Assert.True(map.Insert("insert"u8, fresh, CMapEntryOptions.ExpireAfter(TimeSpan.FromHours(1))), "Insert over an expired entry must report the key as added");
        Assert.True(map.TryAdd("tryadd"u8, fresh, CMapEntryOptions.ExpireAfter(TimeSpan.FromHours(1))), "TryAdd over an expired entry must add");
        Assert.True(map.TryAdd("tryadd-plain"u8, fresh), "a plain TryAdd over an expired entry must add");
        Assert.Equal(fresh, map.GetOrInsert("getorinsert"u8, fresh, CMapEntryOptions.ExpireAfter(TimeSpan.FromHours(1)), out inserted));
        Assert.True(inserted, "GetOrInsert over an expired entry must insert");
        Assert.Equal(fresh, map.GetOrInsert("getorinsert-plain"u8, fresh, out inserted));
        Assert.True(inserted, "a plain GetOrInsert over an expired entry must insert");
        Assert.False(map.Delete("delete"u8), "Delete of an expired entry must report it absent");

        CMapStatistics after = map.GetStatistics();
        output.WriteLine($"before: {Counters(before)}\nafter:  {Counters(after)}");
        Assert.Equal(names.Length - 1, after.Count);
        Assert.Equal(before.Expirations + names.Length, after.Expirations);
        Assert.Equal(before.Removals, after.Removals);

        // The new entries carry the new options: an hour (the plain ones: none).
        time.Advance(TimeSpan.FromMinutes(59));
        foreach (string n in names[..^1])
        {
            AssertPresent(map, System.Text.Encoding.ASCII.GetBytes(n), fresh, $"{config}: {n} 59 minutes after its re-add");
        }

        AssertAbsent(map, "delete"u8, config);
        time.Advance(TimeSpan.FromMinutes(1));
        foreach (string n in new[] { "insert", "tryadd", "getorinsert" })
        {
            AssertAbsent(map, System.Text.Encoding.ASCII.GetBytes(n), $"{config}: {n} an hour after its re-add");
        }

        AssertPresent(map, "tryadd-plain"u8, fresh, config);
        AssertPresent(map, "getorinsert-plain"u8, fresh, config);
        DisposeAndAssertNoNativeBytes(map, config);
    }

    public static TheoryData<string, string> InvalidOptionCases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string op in new[] { "Insert", "TryAdd", "GetOrInsert" })
            {
                foreach (string o in new[] { "relative-zero", "relative-negative", "relative-min", "sliding-zero", "sliding-negative", "absolute-ok-sliding-zero", "sliding-ok-relative-negative" })
                {
                    data.Add(op, o);
                }
            }

            return data;
        }
    }

    private static CMapEntryOptions InvalidOption(string name, DateTimeOffset now) => name switch
    {
        "relative-zero" => new CMapEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.Zero },
        "relative-negative" => new CMapEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromTicks(-1) },
        "relative-min" => new CMapEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.MinValue },
        "sliding-zero" => new CMapEntryOptions { SlidingExpiration = TimeSpan.Zero },
        "sliding-negative" => new CMapEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(-5) },
        "absolute-ok-sliding-zero" => new CMapEntryOptions { AbsoluteExpiration = now + TimeSpan.FromSeconds(5), SlidingExpiration = TimeSpan.Zero },
        "sliding-ok-relative-negative" => new CMapEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(5), AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(-1) },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(InvalidOptionCases))]
    public void OptionsWithASpanThatIsNotPositiveThrowAndChangeNothing(string operation, string option)
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(BudgetedTinyChunks, time));
        byte[] v = Value(50, 1);
        DateTimeOffset t0 = time.GetUtcNow();
        map.Insert("present"u8, v, CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(10)));
        map.Insert("present-plain"u8, v);
        CMapStatistics before = map.GetStatistics();
        CMapEntryOptions bad = InvalidOption(option, t0);
        foreach (byte[] key in new[] { "present"u8.ToArray(), "present-plain"u8.ToArray(), "absent"u8.ToArray() })
        {
            Exception? e = Record.Exception(() =>
            {
                switch (operation)
                {
                    case "Insert":
                        map.Insert(key, "new"u8, bad);
                        break;
                    case "TryAdd":
                        map.TryAdd(key, "new"u8, bad);
                        break;
                    default:
                        map.GetOrInsert(key, "new"u8, bad, out _);
                        break;
                }
            });
            Assert.True(e is ArgumentOutOfRangeException, $"{operation} with {option} on {System.Text.Encoding.ASCII.GetString(key)}: expected ArgumentOutOfRangeException, got {e?.GetType().Name ?? "no exception"}");
        }

        CMapStatistics after = map.GetStatistics();
        Assert.Equal(before.Count, after.Count);
        Assert.Equal(before.LiveBytes, after.LiveBytes);
        Assert.Equal(before.NativeBytes, after.NativeBytes);
        Assert.Equal(before.Hits, after.Hits);
        Assert.Equal(before.Misses, after.Misses);
        AssertAbsent(map, "absent"u8, $"{operation} {option}");
        AssertPresent(map, "present-plain"u8, v, $"{operation} {option}");
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(10) - s_tick);
        AssertPresent(map, "present"u8, v, $"{operation} {option}: the old entry keeps its value and its instant");
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(10));
        AssertAbsent(map, "present"u8, $"{operation} {option}: the old entry keeps its instant");
        DisposeAndAssertNoNativeBytes(map, operation);
    }

    [Fact]
    public void TheOptionFactoriesRejectSpansThatAreNotPositive()
    {
        foreach (TimeSpan bad in new[] { TimeSpan.Zero, TimeSpan.FromTicks(-1), TimeSpan.MinValue })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => CMapEntryOptions.ExpireAfter(bad));
            Assert.Throws<ArgumentOutOfRangeException>(() => CMapEntryOptions.Sliding(bad));
        }

        Assert.False(default(CMapEntryOptions).HasExpiry);
        Assert.True(CMapEntryOptions.ExpireAfter(TimeSpan.FromTicks(1)).HasExpiry);
        Assert.True(CMapEntryOptions.Sliding(TimeSpan.FromTicks(1)).HasExpiry);
    }

    [Fact]
    public void TheLongestSpansAreAcceptedAndNeverExpire()
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(OneShard, time, scanInterval: TimeSpan.FromDays(1)));
        byte[] v = Value(10, 1);
        map.Insert("relative"u8, v, CMapEntryOptions.ExpireAfter(TimeSpan.MaxValue));
        map.Insert("sliding"u8, v, CMapEntryOptions.Sliding(TimeSpan.MaxValue));
        map.Insert("absolute"u8, v, new CMapEntryOptions { AbsoluteExpiration = DateTimeOffset.MaxValue });
        time.Advance(TimeSpan.FromDays(30));
        foreach (string k in new[] { "relative", "sliding", "absolute" })
        {
            AssertPresent(map, System.Text.Encoding.ASCII.GetBytes(k), v, k);
        }

        DisposeAndAssertNoNativeBytes(map, "longest spans");
    }

    /// <summary>
    /// docs/design.md: "Entries without expiry keep the 4-byte header and cost no extra byte." The same entries, written
    /// through every write API with no options or default options, take the same LiveBytes on a plain map and on one with
    /// a clock and a budget, and exactly the documented entry size; an expiring entry adds its 8-byte deadline (sliding:
    /// and the 8-byte window).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(64)]
    public void EntriesWithoutExpiryCostNoExtraBytes(int shards)
    {
        int seed = 5300 + shards;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        FakeTimeProvider time = NewClock();
        var plain = new ByteMap(new CMapConfig { ShardCount = shards, Seed = (ulong)seed, BackgroundCompaction = false });
        var cache = new ByteMap(new CMapConfig { ShardCount = shards, Seed = (ulong)seed, BackgroundCompaction = false, TimeProvider = time, MaxBytes = 256L << 20 });
        long expected = 0;
        var keys = new List<byte[]>();
        for (int i = 0; i < 2000; i++)
        {
            // Distinct keys of 4 to 300 bytes (the id first), so both header forms' key lengths are covered.
            byte[] key = MapConfigurations.Bytes(rng.Next(4, 300), seed + i);
            BitConverter.TryWriteBytes(key, i);
            keys.Add(key);
            byte[] value = Value(rng.Next(10) == 0 ? rng.Next(40_000, 200_000) : rng.Next(0, 400), i);
            expected += PlainEntrySize(key.Length, value.Length);
            switch (i % 5)
            {
                case 0:
                    plain.Insert(key, value);
                    cache.Insert(key, value);
                    break;
                case 1:
                    plain.Insert(key, value);
                    cache.Insert(key, value, default);
                    break;
                case 2:
                    plain.TryAdd(key, value);
                    cache.TryAdd(key, value, default);
                    break;
                case 3:
                    plain.GetOrInsert(key, value, out _);
                    cache.GetOrInsert(key, value, default, out _);
                    break;
                default:
                    plain.GetOrInsert(key, value, out _);
                    cache.GetOrInsert(key, value, out _);
                    break;
            }
        }

        CMapStatistics p = plain.GetStatistics(), c = cache.GetStatistics();
        output.WriteLine($"{keys.Count} entries: plain live {p.LiveBytes:N0}, cache live {c.LiveBytes:N0}, model {expected:N0}");
        Assert.Equal(expected, p.LiveBytes);
        Assert.Equal(expected, c.LiveBytes);
        Assert.Equal(0, c.Evictions);

        // Expiry bytes: 8 for a deadline, 16 with a sliding window; and back to the plain size when overwritten plainly.
        byte[] k0 = keys[0];
        byte[] v0 = plain.Get(k0)!;
        cache.Insert(k0, v0, CMapEntryOptions.ExpireAfter(TimeSpan.FromHours(1)));
        Assert.Equal(expected + 8, cache.GetStatistics().LiveBytes);
        cache.Insert(k0, v0, CMapEntryOptions.Sliding(TimeSpan.FromHours(1)));
        Assert.Equal(expected + 16, cache.GetStatistics().LiveBytes);
        cache.Insert(k0, v0);
        Assert.Equal(expected, cache.GetStatistics().LiveBytes);
        DisposeAndAssertNoNativeBytes(plain, "plain");
        DisposeAndAssertNoNativeBytes(cache, "cache");
    }

    public static TheoryData<string, string> ArmFailureCases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string config in new[] { OneShard, ManyShards, Budgeted })
            {
                foreach (string op in new[] { "Swap", "TrySwap", "GetOrInsert", "Insert" })
                {
                    data.Add(config, op);
                }
            }

            return data;
        }
    }

    /// <summary>
    /// The map's first expiring write starts its expiry timer through the user's TimeProvider. Should CreateTimer throw,
    /// the write throws that exception and changes nothing, and the map stays usable: in particular a swap, which holds
    /// an epoch region for the old value it returns, must not leave it entered (Clear, Compact and Dispose would then
    /// wait forever).
    /// </summary>
    [Theory]
    [MemberData(nameof(ArmFailureCases))]
    public void ATimerThatCannotBeCreatedFailsTheWriteAndChangesNothing(string config, string op)
    {
        var time = new FailingTimerProvider { FailuresLeft = 1 };
        var map = new ByteMap(Create(config, time));
        byte[] v1 = Value(64, 1), v2 = Value(80, 2);
        map.Insert("k"u8, v1);
        CMapEntryOptions expiring = CMapEntryOptions.ExpireAfter(TimeSpan.FromSeconds(30));
        Action write = op switch
        {
            "Swap" => () => map.Swap("k"u8, v2, expiring),
            "TrySwap" => () => map.TrySwap("k"u8, v2, new byte[256], out _, expiring),
            "GetOrInsert" => () => map.GetOrInsert("new"u8, v2, expiring, out _), // a hit writes nothing: an absent key
            _ => () => map.Insert("k"u8, v2, expiring),
        };

        var e = Assert.Throws<InvalidOperationException>(write);
        output.WriteLine($"{config} {op}: {e.Message}");
        Assert.Equal(v1, map.Get("k"u8));
        Assert.Null(map.Get("new"u8));
        Assert.Equal(1, map.Count);

        // Not left inside an epoch region: these would wait for this thread forever, or throw "inside a read callback".
        var compactor = new System.Threading.Thread(() => map.Compact()) { IsBackground = true };
        compactor.Start();
        Assert.True(compactor.Join(TimeSpan.FromSeconds(30)), "Compact waited for a region the failed write left entered");
        map.Clear();
        Assert.Equal(0, map.Count);

        // The provider works now: the same write succeeds and arms the timer.
        write();
        Assert.Equal(1, map.Count);
        Assert.Equal(v2, map.Get(op == "GetOrInsert" ? "new"u8 : "k"u8));
        Assert.Equal(1, time.TimersCreated);
        DisposeAndAssertNoNativeBytes(map, config);
    }

    private sealed class FailingTimerProvider : FakeTimeProvider
    {
        internal int FailuresLeft;
        internal int TimersCreated;

        public override System.Threading.ITimer CreateTimer(System.Threading.TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (FailuresLeft-- > 0)
            {
                throw new InvalidOperationException("CreateTimer failed (test)");
            }

            TimersCreated++;
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }
}
