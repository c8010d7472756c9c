using System;
using Xunit;

namespace CMap.Tests.Linearizability;

/// <summary>The checker on hand-made histories: what it must accept, what it must reject, and when it must say unknown.</summary>
public sealed class LinearizabilityCheckerTests
{
    private const sbyte A = 0, B = 1, C = 2, Absent = RegisterModel.Absent;

    private static Op Make(OpKind kind, int thread, long call, long ret, bool flag = false, sbyte value = Absent, sbyte arg = A, sbyte expected = A) =>
        new() { Kind = kind, Thread = (byte)thread, Call = call, Return = ret, Flag = flag, Value = value, Arg = arg, Expected = expected };

    private static Verdict Check(bool lossy, params Op[] ops) => new LinearizabilityChecker(100_000).Check(ops, lossy);

    [Fact]
    public void ASequentialHistoryThatFollowsTheSpecIsLinearizable()
    {
        Op[] h =
        [
            Make(OpKind.Get, 0, 0, 1, value: Absent),
            Make(OpKind.Insert, 0, 2, 3, flag: true, arg: A),
            Make(OpKind.TryAdd, 0, 4, 5, flag: false, arg: B),
            Make(OpKind.GetOrInsert, 0, 6, 7, flag: false, value: A, arg: C),
            Make(OpKind.Swap, 0, 8, 9, value: A, arg: B),
            Make(OpKind.CompareAndSwap, 0, 10, 11, flag: false, expected: A, arg: C),
            Make(OpKind.CompareAndSwap, 0, 12, 13, flag: true, expected: B, arg: C),
            Make(OpKind.TryGetSpan, 0, 14, 15, value: C),
            Make(OpKind.CompareAndDelete, 0, 16, 17, flag: false, expected: A),
            Make(OpKind.CompareAndDelete, 0, 18, 19, flag: true, expected: C),
            Make(OpKind.ContainsKey, 0, 20, 21, flag: false),
            Make(OpKind.GetOrInsertWriter, 0, 22, 23, flag: true, value: B, arg: B),
            Make(OpKind.Refresh, 0, 24, 25, flag: true),
            Make(OpKind.Insert, 0, 26, 27, flag: false, arg: A),
            Make(OpKind.GetAndDelete, 0, 28, 29, value: A),
            Make(OpKind.Delete, 0, 30, 31, flag: false),
            Make(OpKind.TrySwapWriter, 0, 32, 33, value: Absent, arg: C),
            Make(OpKind.Delete, 0, 34, 35, flag: true),
        ];
        Assert.Equal(Verdict.Linearizable, Check(false, h));
        Assert.Equal(Verdict.Linearizable, Check(true, h));
    }

    [Fact]
    public void AReadThatMissesACompletedWriteIsIllegalUnlessTheRegisterIsLossy()
    {
        Op[] h = [Make(OpKind.Insert, 0, 0, 1, flag: true, arg: A), Make(OpKind.Get, 1, 2, 3, value: Absent)];
        Assert.Equal(Verdict.Illegal, Check(false, h));
        Assert.Equal(Verdict.Linearizable, Check(true, h)); // expired or evicted in between
    }

    [Fact]
    public void AStaleReadIsIllegalEvenForALossyRegister()
    {
        Op[] h =
        [
            Make(OpKind.Insert, 0, 0, 1, flag: true, arg: A),
            Make(OpKind.Insert, 0, 2, 3, flag: false, arg: B),
            Make(OpKind.Get, 1, 4, 5, value: A),
        ];
        Assert.Equal(Verdict.Illegal, Check(false, h));
        Assert.Equal(Verdict.Illegal, Check(true, h));
    }

    [Fact]
    public void AValueThatSurvivesASuccessfulDeleteIsIllegalEvenForALossyRegister()
    {
        Op[] h =
        [
            Make(OpKind.Insert, 0, 0, 1, flag: true, arg: A),
            Make(OpKind.Delete, 0, 2, 3, flag: true),
            Make(OpKind.Get, 1, 4, 5, value: A),
        ];
        Assert.Equal(Verdict.Illegal, Check(false, h));
        Assert.Equal(Verdict.Illegal, Check(true, h));
    }

    [Fact]
    public void AValueNeverWrittenOrGarbageIsIllegal()
    {
        Assert.Equal(Verdict.Illegal, Check(true, Make(OpKind.Get, 0, 0, 1, value: A)));
        Assert.Equal(Verdict.Illegal, Check(true, Make(OpKind.Insert, 0, 0, 1, flag: true, arg: A), Make(OpKind.Get, 0, 2, 3, value: RegisterModel.Garbage)));
    }

    [Fact]
    public void ReadsOverlappingAWriteMaySeeEitherSideButNotGoBack()
    {
        // A long Insert overlaps two reads of another thread: absent-then-A is fine, A-then-absent is not (after the
        // first read saw A, the insert took effect before the second read began).
        Op[] forward = [Make(OpKind.Insert, 0, 0, 10, flag: true, arg: A), Make(OpKind.Get, 1, 1, 2, value: Absent), Make(OpKind.Get, 1, 3, 4, value: A)];
        Op[] backward = [Make(OpKind.Insert, 0, 0, 10, flag: true, arg: A), Make(OpKind.Get, 1, 1, 2, value: A), Make(OpKind.Get, 1, 3, 4, value: Absent)];
        Assert.Equal(Verdict.Linearizable, Check(false, forward));
        Assert.Equal(Verdict.Illegal, Check(false, backward));
        Assert.Equal(Verdict.Linearizable, Check(true, backward));
    }

    [Fact]
    public void TwoConcurrentAddsCannotBothWin()
    {
        Op[] h = [Make(OpKind.TryAdd, 0, 0, 10, flag: true, arg: A), Make(OpKind.TryAdd, 1, 0, 10, flag: true, arg: B)];
        Assert.Equal(Verdict.Illegal, Check(false, h));
        Assert.Equal(Verdict.Linearizable, Check(true, h)); // the first add's value may have expired in between

        Op[] gets = [Make(OpKind.GetOrInsert, 0, 0, 10, flag: true, value: A, arg: A), Make(OpKind.GetOrInsertWriter, 1, 0, 10, flag: false, value: A, arg: B)];
        Assert.Equal(Verdict.Linearizable, Check(false, gets));
    }

    [Fact]
    public void EqualTimestampsAreConcurrentAcrossThreadsButProgramOrderHoldsWithinOne()
    {
        // The read returned at tick 5 and the write was called at tick 5: another thread's write may have come first,
        // but the same thread's write cannot have.
        Assert.Equal(Verdict.Linearizable, Check(false, Make(OpKind.Get, 0, 0, 5, value: A), Make(OpKind.Insert, 1, 5, 6, flag: true, arg: A)));
        Assert.Equal(Verdict.Illegal, Check(false, Make(OpKind.Get, 0, 0, 5, value: A), Make(OpKind.Insert, 0, 5, 6, flag: true, arg: A)));
    }

    [Fact]
    public void ASearchThatRunsOutOfBudgetIsUnknownNeverAPass()
    {
        // 12 fully concurrent reads (2^12 sets of them placed, as far as the cache can tell) before one that nothing
        // explains: a search of 10 steps cannot finish, and with a budget that lets it finish it must say illegal.
        var ops = new Op[13];
        for (int i = 0; i < ops.Length - 1; i++)
        {
            ops[i] = Make(OpKind.Get, i, 0, 100, value: Absent);
        }

        ops[^1] = Make(OpKind.Get, 0, 200, 201, value: RegisterModel.Garbage);
        Assert.Equal(Verdict.Unknown, new LinearizabilityChecker(10).Check(ops, lossy: false));
        Assert.Equal(Verdict.Illegal, new LinearizabilityChecker(1 << 20).Check(ops, lossy: false));
    }

    [Fact]
    public void MoreThan64OperationsOnOneKeyAreRejected() =>
        Assert.Throws<ArgumentException>(() => new LinearizabilityChecker(10).Check(new Op[65], lossy: false));
}
