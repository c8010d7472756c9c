using System;

namespace CMap;

/// <summary>
/// How long one entry may live, as in <c>DistributedCacheEntryOptions</c> and <c>MemoryCacheEntryOptions</c>: an
/// absolute deadline (a point in time, or a span from now), a sliding window that every read that hits (and
/// <see cref="ByteMap.Refresh"/>) extends, or both. The entry leaves at whichever comes first. <c>default</c> means
/// no expiry. Pass it to the <c>Insert</c>, <c>TryAdd</c> and <c>GetOrInsert</c> overloads; an overwrite replaces the
/// old entry's options with the new write's (writing without options clears expiry).
/// </summary>
/// <remarks>
/// Time is the map's <see cref="CMapConfig.TimeProvider"/>. An entry is never returned once that clock reaches its
/// deadline. The one inexactness is sliding expiry's: the last access is recorded only when it moved by at least
/// min(window / 8, 1 s), so an entry may expire up to that much early, never late.
/// </remarks>
public readonly record struct CMapEntryOptions
{
    /// <summary>A point in time after which the entry is gone. Null: none.</summary>
    public DateTimeOffset? AbsoluteExpiration { get; init; }

    /// <summary>How long after the write the entry is gone; must be positive. Null: none. When
    /// <see cref="AbsoluteExpiration"/> is also set, the earlier of the two applies.</summary>
    public TimeSpan? AbsoluteExpirationRelativeToNow { get; init; }

    /// <summary>How long the entry may go unread before it is gone; must be positive. Null: none.</summary>
    public TimeSpan? SlidingExpiration { get; init; }

    /// <summary>True when any kind of expiry is set.</summary>
    public bool HasExpiry => AbsoluteExpiration.HasValue || AbsoluteExpirationRelativeToNow.HasValue || SlidingExpiration.HasValue;

    /// <summary>Options for an entry that is gone <paramref name="timeToLive"/> after the write.</summary>
    /// <param name="timeToLive">Positive.</param>
    /// <returns>The options.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeToLive"/> is not positive.</exception>
    public static CMapEntryOptions ExpireAfter(TimeSpan timeToLive)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeToLive, TimeSpan.Zero);
        return new CMapEntryOptions { AbsoluteExpirationRelativeToNow = timeToLive };
    }

    /// <summary>Options for an entry that is gone once it has gone <paramref name="window"/> unread.</summary>
    /// <param name="window">Positive.</param>
    /// <returns>The options.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is not positive.</exception>
    public static CMapEntryOptions Sliding(TimeSpan window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        return new CMapEntryOptions { SlidingExpiration = window };
    }
}
