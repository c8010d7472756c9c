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
        var map = NewMap(clock, seed: 21);
        TimeSpan window = TimeSpan.FromSeconds(10); // granularity 1 s
        byte[] key = "sliding"u8.ToArray();
        byte[] value = CacheTestKit.Value(40, 1);
        map.Insert(key, value, CMapEntryOptions.Sliding(window));

        clock.Set(TimeSpan.FromSeconds(9));
        var reader = ParkedGet.Start(map, key, clock);

        long rebuildsBefore = map.GetStatistics().IndexRebuilds;
        int inserted = 0;
        if (rebuildDuringTheRead)
        {
            while (map.GetStatistics().IndexRebuilds == rebuildsBefore && inserted < 100_000)
            {
                map.Insert(CacheTestKit.Key(inserted++), "x"u8);
            }
        }

        byte[]? got = reader.Finish();
        long rebuilds = map.GetStatistics().IndexRebuilds - rebuildsBefore;
        output.WriteLine($"rebuild during the read: {rebuildDuringTheRead}; {inserted} inserts, {rebuilds} rebuilds while the reader was parked");
        Assert.True(got is not null && got.AsSpan().SequenceEqual(value), "the parked read at 9 s must hit (the window ends at 10 s)");
        Assert.True(!rebuildDuringTheRead || rebuilds > 0, "no rebuild happened while the reader was parked");

        // The read at 9 s moved the ideal end of the window to 19 s; at most 1 s early, it must be there until 18 s.
        clock.Set(TimeSpan.FromSeconds(12));
        bool present = map.ContainsKey(key);
        output.WriteLine($"at 12 s (a read at 9 s, a 10 s window): present {present}");
        Assert.True(present, "the entry is gone at 12 s although a read hit it at 9 s (window 10 s, granularity 1 s: it must stay until at least 18 s). The read's access went into the index table the rebuild had just replaced, and was lost: the entry left up to a whole window early, not at most the granularity");
        DisposeAndCheckNoLeak(map);
    }

    /// <summary>
    /// A reader parked by its clock read holds the word of an entry past its absolute deadline (it also has a window,
    /// as every IDistributedCache entry with both options does). Meanwhile a write puts a new entry for the key in the
    /// same slot and records its first access in the slot's access cell. The reader then resumes, and must report its
    /// entry expired without sealing the cell: the cell is the new entry's now, and a seal there would make a write
    /// that returned invisible to every later read.
    /// </summary>
    [Fact]
    public void AReaderOfAnEntryPastItsAbsoluteDeadlineNeverSealsTheEntryThatReplacedIt()
    {
        using var clock = new GatedTimeProvider();
        var map = NewMap(clock, seed: 22);
        byte[] key = "both"u8.ToArray();
        byte[] old = CacheTestKit.Value(40, 1), fresh = CacheTestKit.Value(48, 2);
        var options = new CMapEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(5), SlidingExpiration = TimeSpan.FromSeconds(10) };
        map.Insert(key, old, options);

        clock.Set(TimeSpan.FromSeconds(6)); // past the old entry's absolute deadline (5 s), inside its window
        var reader = ParkedGet.Start(map, key, clock);

        // The write finds the old entry expired and reuses its slot for the new one (first access: 6 s).
        Assert.True(map.Insert(key, fresh, options), "the old entry had expired: the write adds a new one");
        byte[]? got = reader.Finish();
        output.WriteLine($"parked read returned {(got is null ? "null" : $"{got.Length} bytes")}; after it, Get returns {map.Get(key)?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"}");
        Assert.True(got is null || got.AsSpan().SequenceEqual(fresh), "the parked read returned the expired value");
        byte[]? after = map.Get(key);
        Assert.True(after is not null && after.AsSpan().SequenceEqual(fresh), "the write that returned is invisible: the parked reader sealed the new entry's access cell");
        Assert.Equal(1, map.Count);
        DisposeAndCheckNoLeak(map);
    }

    /// <summary>
    /// A reader parked on a live entry with an absolute deadline (5 s); a write replaces it at 1 s with an entry that
    /// lives to 10 s; the reader resumes at 6 s, past the *old* entry's deadline. The key was never absent during the
    /// read (the old entry until 1 s, the new one after), so the read must return the new value, not a miss.
    /// </summary>
    [Fact]
    public void AReaderPastItsEntrysDeadlineReturnsTheEntryThatReplacedItMeanwhile()
    {
        using var clock = new GatedTimeProvider();
        var map = NewMap(clock, seed: 28);
        byte[] key = "deadline"u8.ToArray();
        byte[] old = CacheTestKit.Value(40, 1), fresh = CacheTestKit.Value(48, 2);
        map.Insert(key, old, new CMapEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(5) });

        clock.Set(TimeSpan.FromSeconds(1));
        var reader = ParkedGet.Start(map, key, clock);
        Assert.False(map.Insert(key, fresh, new CMapEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(9) }), "the old entry was live at 1 s: the write replaces it");
        clock.Set(TimeSpan.FromSeconds(6));
        byte[]? got = reader.Finish();
        output.WriteLine($"parked read returned {Describe(got, old, fresh)}");
        Assert.True(got is not null && got.AsSpan().SequenceEqual(fresh), $"the parked read returned {Describe(got, old, fresh)}; the key held the old entry until 1 s and the new one (to 10 s) after, so the read must return the new value");
        DisposeAndCheckNoLeak(map);
    }

    /// <summary>
    /// A reader parked by its clock read holds the word of an entry whose window has passed. Meanwhile a write finds the
    /// entry expired and puts a new one in the same slot, whose first access goes into the slot's access cell. The
    /// reader then resumes and reads that cell: judged by the new entry's time, the old entry would look alive, and the
    /// read would return a value that expired before it began. It must return the new value (or nothing).
    /// </summary>
    [Fact]
    public void AReaderOfAnEntryPastItsWindowNeverReturnsItOnceAWriteHasReplacedIt()
    {
        using var clock = new GatedTimeProvider();
        var map = NewMap(clock, seed: 23);
        byte[] key = "window"u8.ToArray();
        byte[] old = CacheTestKit.Value(40, 1), fresh = CacheTestKit.Value(48, 2);
        map.Insert(key, old, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(10)));

        clock.Set(TimeSpan.FromSeconds(11)); // the old entry's window (0 to 10 s) has passed
        var reader = ParkedGet.Start(map, key, clock);
        Assert.True(map.Insert(key, fresh, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(10))), "the old entry had expired: the write adds a new one");
        byte[]? got = reader.Finish();
        output.WriteLine($"parked read returned {Describe(got, old, fresh)}");
        Assert.True(got is not null && got.AsSpan().SequenceEqual(fresh), $"the parked read returned {Describe(got, old, fresh)}; it began before the write and ended after it, and the old entry had expired, so it must see the new value (the old value means it judged the old entry by the new entry's first access)");
        byte[]? after = map.Get(key);
        Assert.True(after is not null && after.AsSpan().SequenceEqual(fresh), "the new entry is not readable after the write returned");
        DisposeAndCheckNoLeak(map);
    }

    /// <summary>
    /// As above, with a new window longer than the old, and the parked reader resuming once the clock has passed the new
    /// entry's write time plus the *old* window. Judged by the new entry's time and the old entry's window, the old entry
    /// looks expired, and the reader seals the cell: the seal would land on the new entry, and a write that returned
    /// would be invisible to every later read.
    /// </summary>
    [Fact]
    public void AReaderOfAnEntryPastItsWindowNeverSealsTheEntryThatReplacedIt()
    {
        using var clock = new GatedTimeProvider();
        var map = NewMap(clock, seed: 24);
        byte[] key = "longer"u8.ToArray();
        byte[] old = CacheTestKit.Value(40, 1), fresh = CacheTestKit.Value(48, 2);
        map.Insert(key, old, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(2)));

        clock.Set(TimeSpan.FromSeconds(3)); // the old entry's window (0 to 2 s) has passed
        var reader = ParkedGet.Start(map, key, clock);
        Assert.True(map.Insert(key, fresh, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(10))), "the old entry had expired: the write adds a new one");
        clock.Set(TimeSpan.FromSeconds(6)); // past 3 s + the old 2 s window; the new entry lives until 13 s
        byte[]? got = reader.Finish();
        byte[]? after = map.Get(key);
        output.WriteLine($"parked read returned {Describe(got, old, fresh)}; after it, Get returns {Describe(after, old, fresh)}");
        Assert.False(got is not null && got.AsSpan().SequenceEqual(old), "the parked read returned the expired old value");
        Assert.True(after is not null && after.AsSpan().SequenceEqual(fresh), "the write that returned is invisible at 6 s (its window runs to 13 s): the parked reader sealed the new entry's access cell");
        Assert.Equal(1, map.Count);
        DisposeAndCheckNoLeak(map);
    }

    /// <summary>
    /// A reader parked on the oldest index table: a rebuild publishes a new table (copying the access cells), and a read
    /// there at 9 s extends the 10 s window to 19 s. The parked reader resumes at 11 s and, by its own table's time (0 s),
    /// finds the entry expired. It must not seal the entry in the new table, whose time says it is alive: it must hit,
    /// and the entry must still be there at 12 s.
    /// </summary>
    [Fact]
    public void AReaderOnATableARebuildReplacedNeverExpiresAnEntryTheNewTableKeepsAlive()
    {
        using var clock = new GatedTimeProvider();
        var map = NewMap(clock, seed: 25);
        byte[] key = "rebuilt"u8.ToArray();
        byte[] value = CacheTestKit.Value(40, 1);
        map.Insert(key, value, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(10)));

        var reader = ParkedGet.Start(map, key, clock);
        long rebuildsBefore = map.GetStatistics().IndexRebuilds;
        int inserted = 0;
        while (map.GetStatistics().IndexRebuilds == rebuildsBefore && inserted < 100_000)
        {
            map.Insert(CacheTestKit.Key(inserted++), "x"u8);
        }

        Assert.True(map.GetStatistics().IndexRebuilds > rebuildsBefore, "no rebuild happened while the reader was parked");
        clock.Set(TimeSpan.FromSeconds(9));
        Assert.True(map.ContainsKey(key), "a read at 9 s (window 10 s) must hit");
        clock.Set(TimeSpan.FromSeconds(11));
        byte[]? got = reader.Finish();
        clock.Set(TimeSpan.FromSeconds(12));
        bool present = map.ContainsKey(key);
        output.WriteLine($"{inserted} inserts rebuilt the index; the parked read at 11 s returned {(got is null ? "nothing" : "the value")}; present at 12 s: {present}");
        Assert.True(got is not null && got.AsSpan().SequenceEqual(value), "the parked read at 11 s missed, though a read at 9 s had extended the window to 19 s (in the table the rebuild published)");
        Assert.True(present, "the entry is gone at 12 s although a read at 9 s extended its window to 19 s: the parked reader sealed it in the new table by the old table's time");
        DisposeAndCheckNoLeak(map);
    }

    /// <summary>
    /// The free-slot path: a reader parked on an entry whose window has passed; the key is deleted and written again,
    /// which puts the new entry in the tombstone the delete left (the same slot) and stores its first access in the same
    /// cell. The reader must not judge the old entry by that time.
    /// </summary>
    [Fact]
    public void AReaderOfADeletedEntryNeverReturnsItOnceTheKeyIsWrittenAgain()
    {
        using var clock = new GatedTimeProvider();
        var map = NewMap(clock, seed: 26);
        byte[] key = "again"u8.ToArray();
        byte[] old = CacheTestKit.Value(40, 1), fresh = CacheTestKit.Value(48, 2);
        map.Insert(key, old, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(10)));

        clock.Set(TimeSpan.FromSeconds(11)); // the old entry's window has passed
        var reader = ParkedGet.Start(map, key, clock);
        map.Delete(key);
        Assert.True(map.Insert(key, fresh, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(10))), "the key was deleted: the write adds it");
        byte[]? got = reader.Finish();
        output.WriteLine($"parked read returned {Describe(got, old, fresh)}");
        Assert.True(got is not null && got.AsSpan().SequenceEqual(fresh), $"the parked read returned {Describe(got, old, fresh)}: it began before the delete and the write and ended after them, and the old entry had expired, so it must see the new value");
        DisposeAndCheckNoLeak(map);
    }

    /// <summary>
    /// A compaction move while a reader is parked on a live sliding entry: the slot's word now points at the entry's copy,
    /// so the reader looks the key up again. It must hit, and its access (5 s) must extend the window (to 15 s).
    /// </summary>
    [Fact]
    public void AReaderOfAnEntryThatCompactionMovedStillHitsAndExtendsTheWindow()
    {
        using var clock = new GatedTimeProvider();
        var map = NewMap(clock, seed: 27, chunkSizes: [4 << 10]);
        byte[] key = "moved"u8.ToArray();
        byte[] value = CacheTestKit.Value(40, 1);
        map.Insert(key, value, CMapEntryOptions.Sliding(TimeSpan.FromSeconds(10)));
        for (int i = 0; i < 200; i++)
        {
            map.Insert(CacheTestKit.Key(i), CacheTestKit.Value(100, i)); // fills the entry's chunk and seals it
        }

        for (int i = 0; i < 200; i++)
        {
            map.Delete(CacheTestKit.Key(i)); // leaves the entry the only live one in its chunk
        }

        clock.Set(TimeSpan.FromSeconds(5));
        var reader = ParkedGet.Start(map, key, clock);
        // Compact() waits for the parked reader's region before it frees what it retired, so it runs on its own thread
        // and the reader is let go once the move is done.
        long movedBefore = map.GetStatistics().CompactionBytesMoved;
        var compaction = new Thread(() => map.Compact()) { IsBackground = true, Name = "compaction" };
        compaction.Start();
        long moved = 0;
        SpinWait.SpinUntil(() => (moved = map.GetStatistics().CompactionBytesMoved - movedBefore) > 0, s_wait);
        Assert.True(moved > 0, "Compact() moved nothing: the parked reader's entry was not moved");
        byte[]? got = reader.Finish();
        Assert.True(compaction.Join(s_wait), "Compact() did not finish once the reader left its region");
        clock.Set(TimeSpan.FromSeconds(12));
        bool present = map.ContainsKey(key);
        output.WriteLine($"compaction moved {moved} bytes while the reader was parked; it returned {(got is null ? "nothing" : "the value")}; present at 12 s: {present}");
        Assert.True(got is not null && got.AsSpan().SequenceEqual(value), "the parked read of a live entry missed after compaction moved it");
        Assert.True(present, "the entry is gone at 12 s although the parked read hit it at 5 s (window 10 s, granularity 1 s)");
        DisposeAndCheckNoLeak(map);
    }

    /// <summary>One shard, the gated clock, no background compaction and no sweep: only the test's steps move entries.</summary>
    private static ByteMap NewMap(GatedTimeProvider clock, ulong seed, int[]? chunkSizes = null) =>
        new(new CMapConfig { ShardCount = 1, Seed = seed, TimeProvider = clock, BackgroundCompaction = false, ExpirationScanInterval = TimeSpan.FromDays(1), ChunkSizes = chunkSizes });

    private static void DisposeAndCheckNoLeak(ByteMap map)
    {
        map.Dispose();
        Assert.Equal(0, map.ArenaForTests.OutstandingBytes);
    }

    private static string Describe(byte[]? got, byte[] old, byte[] fresh) =>
        got is null ? "nothing" : got.AsSpan().SequenceEqual(old) ? "the old value" : got.AsSpan().SequenceEqual(fresh) ? "the new value" : $"{got.Length} unexpected bytes";

    /// <summary>A Get on its own thread, parked by <see cref="GatedTimeProvider"/> at its first clock read.</summary>
    private sealed class ParkedGet
    {
        private readonly GatedTimeProvider _clock;
        private readonly Thread _thread;
        private byte[]? _result;
        private Exception? _error;

        private ParkedGet(ByteMap map, byte[] key, GatedTimeProvider clock)
        {
            _clock = clock;
            _thread = new Thread(() =>
            {
                try
                {
                    clock.TrapNextReadOnThisThread();
                    _result = map.Get(key);
                }
#pragma warning disable CA1031 // reported by Finish, on the test thread
                catch (Exception e)
#pragma warning restore CA1031
                {
                    _error = e;
                }
            }) { IsBackground = true, Name = "parked reader" };
        }

        /// <summary>Starts the Get and returns once it is parked between finding the entry and reading the clock.</summary>
        internal static ParkedGet Start(ByteMap map, byte[] key, GatedTimeProvider clock)
        {
            var get = new ParkedGet(map, key, clock);
            get._thread.Start();
            Assert.True(clock.Trapped.Wait(s_wait), "the reader never reached its clock read");
            return get;
        }

        /// <summary>Lets the Get go on and returns what it returned.</summary>
        internal byte[]? Finish()
        {
            _clock.Release.Set();
            Assert.True(_thread.Join(s_wait), "the reader did not finish");
            Assert.Null(_error);
            return _result;
        }
    }
}
