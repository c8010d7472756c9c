using System;
using System.Runtime.CompilerServices;
using CMap.Buffer;

namespace CMap;

/// <summary>
/// A map's clock for expiry, in <see cref="TimeProvider.GetTimestamp"/> ticks: a Stopwatch read for the system
/// clock, with no timer-refreshed cache (a cached clock would run late). Resolves a write's
/// <see cref="CMapEntryOptions"/> into the deadline and window its entry stores. Conversions round toward the
/// earlier instant, so rounding can only make an entry leave early, never late.
/// </summary>
internal sealed class ExpiryClock
{
    private readonly TimeProvider _time;

    internal ExpiryClock(TimeProvider time)
    {
        _time = time;
        Frequency = time.TimestampFrequency;
    }

    /// <summary>Timestamp ticks per second.</summary>
    internal long Frequency { get; }

    internal TimeProvider Time => _time;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal long Now() => _time.GetTimestamp();

    /// <summary><paramref name="span"/> (non-negative) in timestamp ticks, rounded down, saturating.</summary>
    internal long TicksFor(TimeSpan span)
    {
        Int128 ticks = (Int128)span.Ticks * Frequency / TimeSpan.TicksPerSecond;
        return ticks >= long.MaxValue ? long.MaxValue : (long)ticks;
    }

    /// <summary>A timestamp-tick count as a span (for statistics and messages).</summary>
    internal TimeSpan SpanFor(long ticks)
    {
        Int128 spanTicks = (Int128)ticks * TimeSpan.TicksPerSecond / Frequency;
        return spanTicks >= TimeSpan.MaxValue.Ticks ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)spanTicks);
    }

    /// <summary>
    /// How far a sliding entry's recorded access may lag before a read records a new one: min(window / 8, 1 s), and at
    /// least one tick. The entry may therefore expire up to this much early, never late.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal long GranularityFor(long window) => Math.Max(1, Math.Min(window >> 3, Frequency));

    /// <summary>
    /// The expiry an entry written at <paramref name="now"/> with <paramref name="options"/> stores; <c>default</c>
    /// when the options set none. Throws <see cref="ArgumentOutOfRangeException"/> for a span that is not positive.
    /// </summary>
    internal EntryExpiry Resolve(in CMapEntryOptions options, long now)
    {
        if (now < 0)
        {
            // The entry stores a deadline in 63 bits: a clock that counts from below zero cannot be represented.
            ThrowHelper.ThrowInvalidOperation($"The TimeProvider's GetTimestamp() returned {now}; CMap's expiry needs non-negative timestamps (Stopwatch's and FakeTimeProvider's are).");
        }

        long deadline = EntryLayout.NoDeadline;
        if (options.AbsoluteExpirationRelativeToNow is TimeSpan relative)
        {
            if (relative <= TimeSpan.Zero)
            {
                ThrowHelper.ThrowOption(nameof(CMapEntryOptions.AbsoluteExpirationRelativeToNow), relative);
            }

            deadline = SaturatingAdd(now, TicksFor(relative));
        }

        if (options.AbsoluteExpiration is DateTimeOffset at)
        {
            // A wall-clock instant, converted once, at the write, onto the timestamp clock. Already past: the entry is
            // written expired, so no read returns it.
            TimeSpan ahead = at - _time.GetUtcNow();
            deadline = Math.Min(deadline, ahead <= TimeSpan.Zero ? now : SaturatingAdd(now, TicksFor(ahead)));
        }

        long window = 0;
        if (options.SlidingExpiration is TimeSpan sliding)
        {
            if (sliding <= TimeSpan.Zero)
            {
                ThrowHelper.ThrowOption(nameof(CMapEntryOptions.SlidingExpiration), sliding);
            }

            window = Math.Max(1, TicksFor(sliding));
        }

        if (deadline == EntryLayout.NoDeadline && window == 0)
        {
            return default;
        }

        return new EntryExpiry(Math.Max(1, deadline), window);
    }

    /// <summary>
    /// A sliding entry's recorded access once a read found it expired (the seal, [I10]): its effective deadline is in
    /// the past for any clock, so it never comes back, whatever a slower reader tries to record.
    /// </summary>
    internal const long Expired = long.MinValue / 2;

    /// <summary>
    /// The instant an entry leaves: its deadline, or its last recorded access plus its window if that is earlier.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long EffectiveDeadline(long deadline, long window, long lastAccess) =>
        window == 0 ? deadline : Math.Min(deadline, SaturatingAdd(lastAccess, window));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long SaturatingAdd(long a, long b)
    {
        long sum = a + b;
        return ((a ^ sum) & (b ^ sum)) < 0 ? long.MaxValue : sum;
    }
}
