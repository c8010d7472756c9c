namespace CMap.Buffer;

// Test-only seam of the chunk pool, armed by TestHooks. Never on a hot path: the JIT folds the check away in a
// process without the switch.
internal sealed partial class ChunkPool
{
    private bool _failHolderAllocation;

    /// <summary>While set, constructing a free chunk's holder throws <see cref="System.OutOfMemoryException"/>.</summary>
    internal bool FailHolderAllocation
    {
        get => _failHolderAllocation;
        set
        {
            TestHooks.Require(nameof(FailHolderAllocation));
            _failHolderAllocation = value;
        }
    }
}
