using System.Threading;

namespace CMap.Buffer;

/// <summary>Test-only seams of the epoch domain; never called from a Release path.</summary>
internal sealed unsafe partial class EpochDomain
{
    /// <summary>The domain's epoch as a reader would load it at the start of <see cref="Enter"/>.</summary>
    internal long CurrentEpochForTests => Volatile.Read(ref _current.Value);

    /// <summary>
    /// <see cref="Enter"/> for a reader that loaded <paramref name="epochLoadedEarlier"/> and was descheduled before
    /// announcing it: the interleaving [E6] must survive, forced without a race.
    /// </summary>
    internal long* EnterAfterLoadingEpochForTests(long epochLoadedEarlier)
    {
        TestHooks.Require(nameof(EnterAfterLoadingEpochForTests));
        long* slot = CacheSlotOfCurrentThread();
        if (slot[DepthOffset]++ == 0)
        {
            Announce(slot, epochLoadedEarlier);
        }

        return slot;
    }
}
