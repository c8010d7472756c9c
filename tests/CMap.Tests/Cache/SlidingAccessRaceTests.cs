using System;
using System.Threading;
using CMap;
using CMap.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Cache;

/// <summary>
/// CMapEntryOptions: a sliding entry "may expire up to [min(window / 8, 1 s)] early, never late". A read that hits
/// extends the window by recording its time beside the index. Here a reader is parked (by its clock read, through
/// <see cref="GatedTimeProvider"/>) between finding the entry and recording the access, while a writer's inserts rebuild
/// the index; the read then completes and hits. The entry must live on for the window after that read, less at most the
/// granularity.
/// </summary>
public sealed class SlidingAccessRaceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AReadThatHitsWhileTheIndexIsRebuiltStillExtendsTheWindow(bool rebuildDuringTheRead)
    {
        using var clock = new GatedTimeProvider();
        var map = new ByteMap(new CMapConfig { ShardCount = 1, Seed = 21, TimeProvider = clock, BackgroundCompaction = false, ExpirationScanInterval = TimeSpan.FromDays(1) });
        TimeSpan window = TimeSpan.FromSeconds(10); // granularity 1 s
        byte[] key = "sliding"u8.ToArray();
        byte[] value = CacheTestKit.Value(40, 1);
        map.Insert(key, value, CMapEntryOptions.Sliding(window));

        clock.Set(TimeSpan.FromSeconds(9));
        byte[]? got = null;
        Exception? readerError = null;
        var reader = new Thread(() =>
        {
            try
            {
                clock.TrapNextReadOnThisThread();
                got = map.Get(key);
            }
#pragma warning disable CA1031 // reported by the test thread
            catch (Exception e)
#pragma warning restore CA1031
            {
                readerError = e;
            }
        }) { IsBackground = true, Name = "parked reader" };
        reader.Start();
        Assert.True(clock.Trapped.Wait(s_wait), "the reader never reached its clock read");

        long rebuildsBefore = map.GetStatistics().IndexRebuilds;
        int inserted = 0;
        if (rebuildDuringTheRead)
        {
            while (map.GetStatistics().IndexRebuilds == rebuildsBefore && inserted < 100_000)
            {
                map.Insert(CacheTestKit.Key(inserted++), "x"u8);
            }
        }

        clock.Release.Set();
        Assert.True(reader.Join(s_wait), "the reader did not finish");
        Assert.Null(readerError);
        long rebuilds = map.GetStatistics().IndexRebuilds - rebuildsBefore;
        output.WriteLine($"rebuild during the read: {rebuildDuringTheRead}; {inserted} inserts, {rebuilds} rebuilds while the reader was parked");
        Assert.True(got is not null && got.AsSpan().SequenceEqual(value), "the parked read at 9 s must hit (the window ends at 10 s)");
        Assert.True(!rebuildDuringTheRead || rebuilds > 0, "no rebuild happened while the reader was parked");

        // The read at 9 s moved the ideal end of the window to 19 s; at most 1 s early, it must be there until 18 s.
        clock.Set(TimeSpan.FromSeconds(12));
        bool present = map.ContainsKey(key);
        output.WriteLine($"at 12 s (a read at 9 s, a 10 s window): present {present}");
        Assert.True(present, "the entry is gone at 12 s although a read hit it at 9 s (window 10 s, granularity 1 s: it must stay until at least 18 s). The read's access went into the index table the rebuild had just replaced, and was lost: the entry left up to a whole window early, not at most the granularity");
        map.Dispose();
        Assert.Equal(0, map.ArenaForTests.OutstandingBytes);
    }
}
