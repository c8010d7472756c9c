using System;
using CMap;
using CMap.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using Xunit.Abstractions;
using static CMap.Tests.Support.CacheTestKit;

namespace CMap.Tests.Cache;

/// <summary>
/// Sliding expiry (CMapEntryOptions.SlidingExpiration): every read that hits, and Refresh, extends the window; the last
/// access is recorded only when it moved by at least g = min(window / 8, 1 s), so an entry may expire up to g early,
/// never late. Each check that must not itself extend the window reads a twin key written at the same instant.
/// </summary>
public sealed class SlidingExpiryTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_tick = TimeSpan.FromTicks(1);

    /// <summary>Windows whose granularity is window / 8 (80 ms, 8 s) and one where it is capped at 1 s (1 hour).</summary>
    public static TheoryData<string, int> ConfigsAndWindows
    {
        get
        {
            var data = new TheoryData<string, int>();
            foreach (string c in new[] { OneShard, TinyChunks, ManyShards, Budgeted, BudgetedTinyChunks })
            {
                foreach (int ms in new[] { 80, 8_000, 3_600_000 })
                {
                    data.Add(c, ms);
                }
            }

            return data;
        }
    }

    private static ByteMap NewMap(string config, FakeTimeProvider time, TimeSpan window) =>
        // A quarter window: sweeps run during the walk, and a long advance never runs millions of timer ticks.
        new(Create(config, time, scanInterval: TimeSpan.FromTicks(Math.Clamp(window.Ticks / 4, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerDay))));

    [Theory]
    [MemberData(nameof(ConfigsAndWindows))]
    public void AnUnreadSlidingEntryEndsExactlyOneWindowAfterItsWrite(string config, int windowMs)
    {
        TimeSpan window = TimeSpan.FromMilliseconds(windowMs);
        FakeTimeProvider time = NewClock();
        var map = NewMap(config, time, window);
        byte[] value = Value(100, 1);
        DateTimeOffset t0 = time.GetUtcNow();
        map.Insert("a"u8, value, CMapEntryOptions.Sliding(window));
        map.Insert("b"u8, value, CMapEntryOptions.Sliding(window));
        time.SetUtcNow(t0 + window - s_tick);
        Assert.Equal(value, map.Get("a"u8));
        time.SetUtcNow(t0 + window);
        Assert.Null(map.Get("b"u8));
        output.WriteLine($"{config}, window {window}: {Counters(map.GetStatistics())}");
        DisposeAndAssertNoNativeBytes(map, config);
    }

    [Theory]
    [MemberData(nameof(ConfigsAndWindows))]
    public void AReadAtLeastTheGranularityAfterTheLastRecordedAccessExtendsTheWindowExactly(string config, int windowMs)
    {
        TimeSpan window = TimeSpan.FromMilliseconds(windowMs);
        TimeSpan g = SlidingGranularity(window);
        FakeTimeProvider time = NewClock();
        var map = NewMap(config, time, window);
        byte[] value = Value(100, 2);
        DateTimeOffset t0 = time.GetUtcNow();
        map.Insert("a"u8, value, CMapEntryOptions.Sliding(window));
        map.Insert("b"u8, value, CMapEntryOptions.Sliding(window));
        map.Insert("c"u8, value, CMapEntryOptions.Sliding(window));
        time.SetUtcNow(t0 + g);
        Assert.Equal(value, map.Get("a"u8));
        Assert.True(map.ContainsKey("b"u8));
        Assert.True(map.Refresh("c"u8));

        // Never late: each is gone exactly one window after the read that extended it.
        time.SetUtcNow(t0 + g + window - s_tick);
        Assert.Equal(value, map.Get("a"u8));
        time.SetUtcNow(t0 + g + window);
        Assert.Null(map.Get("b"u8));
        Assert.False(map.Refresh("c"u8));
        output.WriteLine($"{config}, window {window}, granularity {g}: {Counters(map.GetStatistics())}");
        DisposeAndAssertNoNativeBytes(map, config);
    }

    [Theory]
    [MemberData(nameof(ConfigsAndWindows))]
    public void ReadsWithinTheGranularityDoNotExtendSoTheEntryLeavesAtMostTheGranularityEarly(string config, int windowMs)
    {
        TimeSpan window = TimeSpan.FromMilliseconds(windowMs);
        TimeSpan g = SlidingGranularity(window);
        FakeTimeProvider time = NewClock();
        var map = NewMap(config, time, window);
        byte[] value = Value(100, 3);
        DateTimeOffset t0 = time.GetUtcNow();
        map.Insert("a"u8, value, CMapEntryOptions.Sliding(window));
        map.Insert("b"u8, value, CMapEntryOptions.Sliding(window));

        // Reads one tick short of the granularity: not recorded.
        time.SetUtcNow(t0 + g - s_tick);
        Assert.Equal(value, map.Get("a"u8));
        Assert.Equal(value, map.Get("b"u8));
        Assert.True(map.Refresh("a"u8));

        // So both still leave one window after the write: (g - 1 tick) early, which is within g.
        time.SetUtcNow(t0 + window - s_tick);
        Assert.Equal(value, map.Get("a"u8));
        time.SetUtcNow(t0 + window);
        Assert.Null(map.Get("b"u8));

        // But never more than g early: a (a read at window - 1 tick, recorded) is present until g before its ideal deadline.
        DateTimeOffset lastRead = t0 + window - s_tick;
        time.SetUtcNow(lastRead + window - g - s_tick);
        Assert.Equal(value, map.Get("a"u8));
        DisposeAndAssertNoNativeBytes(map, config);
    }

    /// <summary>
    /// Random reads (Get, TryGet, TryRead, ContainsKey, Refresh, GetOrInsert's hit) at random times against the ideal
    /// model (the window runs from the last read that hit): a key read at or after its ideal deadline must be absent
    /// (never late), one read more than g before it must be present (at most g early).
    /// </summary>
    [Theory]
    [MemberData(nameof(ConfigsAndWindows))]
    public void RandomReadsNeverOutliveTheIdealDeadlineNorFallShortOfItByMoreThanTheGranularity(string config, int windowMs)
    {
        int seed = 5200 + windowMs + config.Length;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        TimeSpan window = TimeSpan.FromMilliseconds(windowMs);
        long w = window.Ticks;
        long g = SlidingGranularity(window).Ticks;
        FakeTimeProvider time = NewClock();
        var map = NewMap(config, time, window);
        const int keys = 8;
        var lastRead = new long[keys];
        var alive = new bool[keys];
        var values = new byte[keys][];
        for (int k0 = 0; k0 < keys; k0++)
        {
            values[k0] = Value(rng.Next(1, 600), k0);
            map.Insert(Key(k0), values[k0], CMapEntryOptions.Sliding(window));
            lastRead[k0] = time.GetUtcNow().UtcTicks;
            alive[k0] = true;
        }

        int early = 0, exactOrLate = 0, extended = 0;
        for (int step = 0; step < 4000; step++)
        {
            int k = rng.Next(keys);
            long before = time.GetUtcNow().UtcTicks;
            long ideal0 = lastRead[k] + w;

            // A third of the steps land on a boundary of this key (g before its ideal deadline, or the deadline itself,
            // give or take a tick); the rest are short steps (each key is then read about every w / 4), with a rare jump.
            long target = rng.Next(3) == 0
                ? rng.Next(6) switch
                {
                    0 => ideal0 - g - 1,
                    1 => ideal0 - g,
                    2 => ideal0 - g + 1,
                    3 => ideal0 - 1,
                    4 => ideal0,
                    _ => ideal0 + 1,
                }
                : before + (rng.Next(40) == 0 ? rng.NextInt64(w, 2 * w) : rng.NextInt64(0, Math.Max(1, w / 16)));
            if (target > before)
            {
                time.SetUtcNow(new DateTimeOffset(target, TimeSpan.Zero));
            }

            long now = time.GetUtcNow().UtcTicks;
            bool found = Read(map, Key(k), values[k], rng.Next(6));
            long ideal = lastRead[k] + w;
            if (!alive[k])
            {
                Assert.False(found, $"seed {seed}: key {k} came back after it expired");
                map.Insert(Key(k), values[k], CMapEntryOptions.Sliding(window));
                lastRead[k] = now;
                alive[k] = true;
                continue;
            }

            if (now >= ideal)
            {
                Assert.False(found, $"seed {seed}, step {step}: key {k} read at {now}, {now - ideal} ticks after its ideal deadline {ideal} (window {w}, granularity {g}): late");
                exactOrLate++;
                alive[k] = false;
            }
            else if (now < ideal - g)
            {
                Assert.True(found, $"seed {seed}, step {step}: key {k} absent at {now}, {ideal - now} ticks before its ideal deadline {ideal}: more than the granularity {g} early");
                lastRead[k] = now;
                extended++;
            }
            else if (found)
            {
                lastRead[k] = now;
            }
            else
            {
                alive[k] = false;
                early++;
            }
        }

        output.WriteLine($"{config}, window {window}: {extended} extending reads, {exactOrLate} reads at or after the ideal deadline, {early} early expiries (within g); {Counters(map.GetStatistics())}");
        Assert.True(extended > 500 && exactOrLate > 100, $"the walk did not exercise both sides: {extended} extending reads, {exactOrLate} reads past the ideal deadline");
        DisposeAndAssertNoNativeBytes(map, config);
    }

    private static bool Read(ByteMap map, byte[] key, byte[] expected, int how)
    {
        switch (how)
        {
            case 0:
                byte[]? got = map.Get(key);
                Assert.True(got is null || got.AsSpan().SequenceEqual(expected));
                return got is not null;
            case 1:
                var buffer = new byte[expected.Length];
                bool ok = map.TryGet(key, buffer, out _);
                Assert.True(!ok || buffer.AsSpan().SequenceEqual(expected));
                return ok;
            case 2:
                return map.TryRead(key, expected, static (span, e) => Assert.True(span.SequenceEqual(e)));
            case 3:
                return map.ContainsKey(key);
            case 4:
                return map.Refresh(key);
            default:
                // A GetOrInsert hit extends the window as any read does. On a miss it adds the key again: undo that, so the
                // model stays "absent" (the delete is a write, not a read).
                byte[] current = map.GetOrInsert(key, expected, CMapEntryOptions.Sliding(TimeSpan.FromDays(1)), out bool inserted);
                Assert.True(current.AsSpan().SequenceEqual(expected));
                if (inserted)
                {
                    Assert.True(map.Delete(key));
                }

                return !inserted;
        }
    }

    [Theory]
    [MemberData(nameof(ExpiryConfigs), MemberType = typeof(CacheTestKit))]
    public void WithAnAbsoluteInstantAndASlidingWindowTheEarlierApplies(string config)
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(config, time));
        byte[] value = Value(50, 4);
        DateTimeOffset t0 = time.GetUtcNow();

        // Absolute 5 s, sliding 2 s read every second: the reads keep the window open, the absolute instant ends it.
        map.Insert("abs-wins"u8, value, new CMapEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(5), SlidingExpiration = TimeSpan.FromSeconds(2) });

        // Absolute 10 s, sliding 2 s never read: the window ends it (checked exactly on a second map below).
        map.Insert("slide-wins-b"u8, value, new CMapEntryOptions { AbsoluteExpiration = t0 + TimeSpan.FromSeconds(10), SlidingExpiration = TimeSpan.FromSeconds(2) });
        for (int s = 1; s <= 4; s++)
        {
            time.SetUtcNow(t0 + TimeSpan.FromSeconds(s));
            Assert.Equal(value, map.Get("abs-wins"u8));
        }

        time.SetUtcNow(t0 + TimeSpan.FromSeconds(5) - s_tick);
        Assert.Equal(value, map.Get("abs-wins"u8));
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(5));
        Assert.Null(map.Get("abs-wins"u8));
        Assert.False(map.Refresh("abs-wins"u8));

        // The twins were last accessed at their write (t0); their window ended at t0 + 2 s.
        Assert.Null(map.Get("slide-wins-b"u8));
        DisposeAndAssertNoNativeBytes(map, config);

        FakeTimeProvider time2 = NewClock();
        var map2 = new ByteMap(Create(config, time2));
        DateTimeOffset u0 = time2.GetUtcNow();
        map2.Insert("a"u8, value, new CMapEntryOptions { AbsoluteExpiration = u0 + TimeSpan.FromSeconds(10), SlidingExpiration = TimeSpan.FromSeconds(2) });
        map2.Insert("b"u8, value, new CMapEntryOptions { AbsoluteExpiration = u0 + TimeSpan.FromSeconds(10), SlidingExpiration = TimeSpan.FromSeconds(2) });
        time2.SetUtcNow(u0 + TimeSpan.FromSeconds(2) - s_tick);
        Assert.Equal(value, map2.Get("a"u8));
        time2.SetUtcNow(u0 + TimeSpan.FromSeconds(2));
        Assert.Null(map2.Get("b"u8));
        DisposeAndAssertNoNativeBytes(map2, config);
    }

    [Theory]
    [MemberData(nameof(ExpiryConfigs), MemberType = typeof(CacheTestKit))]
    public void AGetOrInsertHitExtendsTheWindowAndKeepsTheExistingOptions(string config)
    {
        FakeTimeProvider time = NewClock();
        var map = new ByteMap(Create(config, time));
        byte[] value = Value(50, 5);
        DateTimeOffset t0 = time.GetUtcNow();
        map.Insert("a"u8, value, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(4)));
        map.Insert("b"u8, value, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(4)));
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(2));
        byte[] got = map.GetOrInsert("a"u8, "other"u8, CMapEntryOptions.ExpireAfter(TimeSpan.FromDays(1)), out bool inserted);
        Assert.False(inserted);
        Assert.Equal(value, got);
        got = map.GetOrInsert("b"u8, "other"u8, CMapEntryOptions.ExpireAfter(TimeSpan.FromDays(1)), out inserted);
        Assert.False(inserted);
        Assert.Equal(value, got);

        // Extended to t0 + 6 s, and still sliding (the day-long option of the hit was not applied).
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(6) - s_tick);
        Assert.Equal(value, map.Get("a"u8));
        time.SetUtcNow(t0 + TimeSpan.FromSeconds(6));
        Assert.Null(map.Get("b"u8));
        DisposeAndAssertNoNativeBytes(map, config);
    }
}
