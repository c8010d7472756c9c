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
/// Absolute expiry on a fake clock (CMapEntryOptions, CMapConfig.TimeProvider): an entry is readable up to one tick
/// before its instant and gone at it, whether the instant is a span from the write or a DateTimeOffset; with both set
/// the earlier one applies.
/// </summary>
public sealed class AbsoluteExpiryTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_tick = TimeSpan.FromTicks(1);

    private static readonly TimeSpan[] s_ttls =
    [
        TimeSpan.FromTicks(1), TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1500), TimeSpan.FromSeconds(7), TimeSpan.FromMinutes(3),
    ];

    [Theory]
    [MemberData(nameof(ExpiryConfigsAndLengths), MemberType = typeof(CacheTestKit))]
    public void ARelativeExpiryEndsExactlyAtItsInstant(string config, int valueLength)
    {
        RunExactInstant(config, valueLength, relative: true);
    }

    [Theory]
    [MemberData(nameof(ExpiryConfigsAndLengths), MemberType = typeof(CacheTestKit))]
    public void AnAbsoluteDateTimeOffsetExpiryEndsExactlyAtItsInstant(string config, int valueLength)
    {
        RunExactInstant(config, valueLength, relative: false);
    }

    private void RunExactInstant(string config, int valueLength, bool relative)
    {
        FakeTimeProvider time = NewClock();
        time.Advance(TimeSpan.FromMilliseconds(123.4567)); // not a round start
        var map = new ByteMap(Create(config, time));
        DateTimeOffset t0 = time.GetUtcNow();
        var values = new byte[s_ttls.Length][];
        for (int i = 0; i < s_ttls.Length; i++)
        {
            values[i] = Value(valueLength, i);
            CMapEntryOptions options = relative
                ? CMapEntryOptions.ExpireAfter(s_ttls[i])
                : new CMapEntryOptions { AbsoluteExpiration = t0 + s_ttls[i] };
            Assert.True(map.Insert(Key(i), values[i], options));
        }

        for (int i = 0; i < s_ttls.Length; i++)
        {
            time.SetUtcNow(t0 + s_ttls[i] - s_tick);
            for (int j = i; j < s_ttls.Length; j++)
            {
                AssertPresent(map, Key(j), values[j], $"{config}, {valueLength} B, key {j} (ttl {s_ttls[j]}) one tick before {s_ttls[i]}");
            }

            time.SetUtcNow(t0 + s_ttls[i]);
            for (int j = 0; j <= i; j++)
            {
                AssertAbsent(map, Key(j), $"{config}, {valueLength} B, key {j} (ttl {s_ttls[j]}) at {s_ttls[i]}");
            }
        }

        output.WriteLine($"{config}, {valueLength} B, relative={relative}: {Counters(map.GetStatistics())}");
        DisposeAndAssertNoNativeBytes(map, config);
    }

    [Theory]
    [MemberData(nameof(ExpiryConfigs), MemberType = typeof(CacheTestKit))]
    public void AnInstantAlreadyPastStoresAnEntryNoReadReturns(string config)
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(config, time));
        DateTimeOffset now = time.GetUtcNow();
        Assert.True(map.Insert("past"u8, "v"u8, new CMapEntryOptions { AbsoluteExpiration = now - TimeSpan.FromSeconds(1) }));
        Assert.True(map.Insert("now"u8, "v"u8, new CMapEntryOptions { AbsoluteExpiration = now }));
        AssertAbsent(map, "past"u8, $"{config}: an instant 1 s ago");
        AssertAbsent(map, "now"u8, $"{config}: the instant of the write");

        // A write over such an entry sees it absent.
        Assert.True(map.TryAdd("past"u8, "w"u8));
        AssertPresent(map, "past"u8, "w"u8.ToArray(), $"{config}: TryAdd over an entry written already expired");
        DisposeAndAssertNoNativeBytes(map, config);
    }

    [Fact]
    public void AnAbsoluteInstantInAnotherTimeZoneIsTheSameInstant()
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(OneShard, time));
        DateTimeOffset t0 = time.GetUtcNow();
        DateTimeOffset at = (t0 + TimeSpan.FromSeconds(30)).ToOffset(TimeSpan.FromHours(-7));
        byte[] v = Value(10, 1);
        map.Insert("a"u8, v, new CMapEntryOptions { AbsoluteExpiration = at });
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(30) - s_tick);
        AssertPresent(map, "a"u8, v, "one tick before an instant given at UTC-7");
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(30));
        AssertAbsent(map, "a"u8, "at an instant given at UTC-7");
        DisposeAndAssertNoNativeBytes(map, "time zone");
    }

    [Theory]
    [InlineData(2, 5)]
    [InlineData(5, 2)]
    [InlineData(3, 3)]
    public void WithARelativeAndAnAbsoluteInstantTheEarlierApplies(int relativeSeconds, int absoluteSeconds)
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(OneShard, time));
        DateTimeOffset t0 = time.GetUtcNow();
        var options = new CMapEntryOptions
        {
            AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(relativeSeconds),
            AbsoluteExpiration = t0 + TimeSpan.FromSeconds(absoluteSeconds),
        };
        byte[] value = Value(40, 1);
        map.Insert("k"u8, value, options);
        TimeSpan earlier = TimeSpan.FromSeconds(Math.Min(relativeSeconds, absoluteSeconds));
        time.SetUtcNow(t0 + earlier - s_tick);
        AssertPresent(map, "k"u8, value, $"relative {relativeSeconds} s, absolute {absoluteSeconds} s, one tick before {earlier}");
        time.SetUtcNow(t0 + earlier);
        AssertAbsent(map, "k"u8, $"relative {relativeSeconds} s, absolute {absoluteSeconds} s, at {earlier}");
        DisposeAndAssertNoNativeBytes(map, "both absolute kinds");
    }

    /// <summary>
    /// A model of many entries with random instants (relative, absolute or both), written at random times; the clock moves
    /// by random steps that often land exactly on an instant or one tick before it. At every step, every key is present
    /// exactly when the clock is before its instant. Afterwards the idle sweep removes every one of them, each counted once.
    /// </summary>
    [Theory]
    [MemberData(nameof(ExpiryConfigs), MemberType = typeof(CacheTestKit))]
    public void ManyEntriesEachLeaveExactlyAtTheirOwnInstant(string config)
    {
        int seed = 5100 + config.Length;
        output.WriteLine($"seed {seed}, config {config}");
        var rng = new Random(seed);
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(config, time, (ulong)seed));
        long empty = map.GetStatistics().NativeBytes;
        const int n = 300;
        var deadlines = new long[n];
        var values = new byte[n][];
        var instants = new List<long>();
        for (int i = 0; i < n; i++)
        {
            if (rng.Next(4) == 0)
            {
                time.Advance(TimeSpan.FromTicks(rng.Next(1, 2_000_000)));
            }

            DateTimeOffset now = time.GetUtcNow();
            TimeSpan ttl = TimeSpan.FromTicks(rng.NextInt64(1, 10 * TimeSpan.TicksPerSecond));
            TimeSpan other = TimeSpan.FromTicks(rng.NextInt64(1, 10 * TimeSpan.TicksPerSecond));
            CMapEntryOptions options;
            switch (rng.Next(3))
            {
                case 0:
                    options = CMapEntryOptions.ExpireAfter(ttl);
                    deadlines[i] = (now + ttl).UtcTicks;
                    break;
                case 1:
                    options = new CMapEntryOptions { AbsoluteExpiration = now + ttl };
                    deadlines[i] = (now + ttl).UtcTicks;
                    break;
                default:
                    options = new CMapEntryOptions { AbsoluteExpiration = now + ttl, AbsoluteExpirationRelativeToNow = other };
                    deadlines[i] = (now + (ttl < other ? ttl : other)).UtcTicks;
                    break;
            }

            values[i] = Value(rng.Next(0, 700), i);
            Assert.True(map.Insert(Key(i), values[i], options), $"key {i} should be new");
            instants.Add(deadlines[i]);
            instants.Add(deadlines[i] - 1);
        }

        instants.Sort();
        int checks = 0;
        foreach (long target in instants)
        {
            if (target < time.GetUtcNow().UtcTicks)
            {
                continue;
            }

            time.SetUtcNow(new DateTimeOffset(target, TimeSpan.Zero));
            long now = time.GetUtcNow().UtcTicks;
            for (int i = 0; i < n; i++)
            {
                bool expected = now < deadlines[i];
                byte[]? got = map.Get(Key(i));
                if (expected)
                {
                    Assert.True(got is not null && got.AsSpan().SequenceEqual(values[i]), $"seed {seed}: key {i} (deadline {deadlines[i]}) should be present at {now} ({deadlines[i] - now} ticks before its instant), got {ModelRules.Describe(got)}");
                }
                else
                {
                    Assert.True(got is null, $"seed {seed}: key {i} (deadline {deadlines[i]}) returned a value at {now}, {now - deadlines[i]} ticks after its instant");
                }

                checks++;
            }
        }

        // Idle: no reads from here on. The sweep (ExpirationScanInterval, default 1 s) removes every entry, each counted once.
        time.Advance(TimeSpan.FromSeconds(3));
        CMapStatistics after = map.GetStatistics();
        output.WriteLine($"{checks} presence checks; after the sweep: {Counters(after)}");
        Assert.Equal(0, after.Count);
        Assert.Equal(n, after.Expirations);
        Assert.Equal(0, after.Evictions);
        Assert.Equal(0, after.LiveBytes);
        map.Compact();
        CMapStatistics compacted = map.GetStatistics();
        Assert.True(compacted.NativeBytes == empty, $"{config}: after every entry expired and Compact, native bytes {compacted.NativeBytes:N0} != the empty map's {empty:N0}");
        DisposeAndAssertNoNativeBytes(map, config);
    }
}
