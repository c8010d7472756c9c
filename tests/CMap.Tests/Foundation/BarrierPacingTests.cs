using System;
using System.Threading;
using CMap.Tests.Stress;
using CMap.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace CMap.Tests.Foundation;

/// <summary>
/// Failure 3: once readers held back 32 retired items, every retirement drained and issued a process-wide barrier
/// (0.94 barriers per write with one reader parked). Barriers are now paced: a drain is attempted at most once per
/// <see cref="CMap.Buffer.RetireList.DrainCountThreshold"/> retirements or 1 MiB, and an attempt that a barrier-free
/// scan shows cannot free anything skips the barrier [E7].
/// </summary>
[Collection(StressCollection.Name)]
public sealed class BarrierPacingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private static ByteMap CreateChurningMap() => new(new CMapConfig
    {
        ShardCount = 1,
        Seed = 7,
        ChunkSizes = [4096], // ~3 values per chunk: overwrites retire a chunk every few writes
        MaxRetainedChunkBytes = 0,
        BackgroundCompaction = false,
    });

    private static (long Writes, long Retired) Churn(ByteMap map, int writes)
    {
        byte[] value = new byte[1000];
        long retiredBefore = map.RetiredForTests.ReleasedItems + map.RetiredForTests.PendingCount;
        for (int i = 0; i < writes; i++)
        {
            value[0] = (byte)i;
            map.Insert(StressValue.Key(i % 4), value);
        }

        return (writes, map.RetiredForTests.ReleasedItems + map.RetiredForTests.PendingCount - retiredBefore);
    }

    [Fact]
    public void AReaderParkedInACallbackCostsWritersNoBarrierStorm()
    {
        using var map = CreateChurningMap();
        map.Insert("parked"u8, "p"u8);
        using var entered = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        var reader = new Thread(() => map.TryRead("parked"u8, 0, (_, _) =>
        {
            entered.Set();
            leave.Wait(s_timeout); // asleep in its callback, as a slow consumer would be
        }));
        reader.Start();
        Assert.True(entered.Wait(s_timeout));

        long barriersBefore = map.ProcessWideBarriersForTests;
        (long writes, long retired) = Churn(map, 20_000);
        long barriers = map.ProcessWideBarriersForTests - barriersBefore;
        long heldBack = map.RetiredForTests.PendingCount;
        output.WriteLine($"parked reader: {writes} writes retired {retired} items; {barriers} barriers ({(double)barriers / writes:F4} per write); {heldBack} items held back; {map.RetiredForTests.SkippedBarriers} barrier-free attempts");

        leave.Set();
        Assert.True(reader.Join(s_timeout));

        // The race was exercised: the writer retired plenty while the reader held them back.
        Assert.True(retired >= 1000, $"only {retired} items were retired: the churn did not exercise the drain");
        Assert.True(heldBack >= 1000, $"only {heldBack} items were held back: the reader did not park");

        // The bound: every item retired after the reader's announce is held back by it, so at most the first drain
        // attempt (which may free what was retired before it entered) can pay for a barrier. 2733faf paid 0.94 per write.
        Assert.True(barriers <= 1, $"{barriers} barriers with a parked reader; at most 1 is justified");
    }

    [Fact]
    public void WithoutAParkedReaderBarriersFollowThePacingRule()
    {
        using var map = CreateChurningMap();
        long barriersBefore = map.ProcessWideBarriersForTests;
        (long writes, long retired) = Churn(map, 20_000);
        long barriers = map.ProcessWideBarriersForTests - barriersBefore;
        output.WriteLine($"no reader: {writes} writes retired {retired} items; {barriers} barriers ({(double)barriers / writes:F4} per write)");

        // Drains still happen (memory goes back to the pool)…
        Assert.True(barriers > 0, "no drain ran: retired memory would never be freed");
        // …but at most one per DrainCountThreshold retirements (1,000-byte values: the 1 MiB rule never fires first).
        long bound = (retired / CMap.Buffer.RetireList.DrainCountThreshold) + 1;
        Assert.True(barriers <= bound, $"{barriers} barriers for {retired} retirements; the pacing rule allows {bound}");
    }

    [Fact]
    public void BackgroundCompactionWaitsWhileAReaderHoldsBackRetiredMemory()
    {
        // While a reader holds back retired memory, a compaction pass could free nothing: it would copy live entries
        // into fresh chunks that the reader also keeps alive. The pass defers itself (the scheduler retries it), and
        // runs once the reader has left.
        var scheduler = new ManualCompactionScheduler();
        using var map = new ByteMap(new CMapConfig
        {
            ShardCount = 1,
            Seed = 9,
            ChunkSizes = [4096],
            MaxRetainedChunkBytes = 0,
            CompactionMinDeadBytes = 0,
            CompactionSchedulerFactory = () => scheduler,
        });
        map.Insert("parked"u8, "p"u8);
        using var entered = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        var reader = new Thread(() => map.TryRead("parked"u8, 0, (_, _) =>
        {
            entered.Set();
            leave.Wait(s_timeout);
        }));
        reader.Start();
        Assert.True(entered.Wait(s_timeout));

        var rnd = new Random(9);
        byte[] value = new byte[1000];
        for (int i = 0; i < 20_000; i++)
        {
            map.Insert(StressValue.Key(rnd.Next(64)), value);
        }

        long heldBack = map.RetiredForTests.PendingBytes;
        long compactedBefore = map.GetStatistics().ChunksCompacted;
        Assert.True(scheduler.RunPending(), "the churn never asked for compaction: the test did not exercise the pass");
        long deferrals = map.CompactionDeferralsForTests;
        long compactedWhileParked = map.GetStatistics().ChunksCompacted - compactedBefore;
        output.WriteLine($"held back {heldBack:N0} B; {deferrals} deferred passes; {compactedWhileParked} chunks compacted while the reader was parked");
        Assert.True(heldBack >= CMap.Buffer.RetireList.HeldBackBytesThreshold, $"only {heldBack} bytes were held back");
        Assert.Equal(1, deferrals);
        Assert.Equal(0, compactedWhileParked);

        leave.Set();
        Assert.True(reader.Join(s_timeout));

        // The deferred request is still pending; with the reader gone the next pass drains first, then compacts.
        map.RetiredForTests.TryDrain();
        Assert.True(scheduler.RunPending(), "the deferred request was lost");
        Assert.Equal(1, map.CompactionDeferralsForTests);
        Assert.True(map.GetStatistics().ChunksCompacted > compactedBefore, "the pass never ran after the reader left");
    }
}
