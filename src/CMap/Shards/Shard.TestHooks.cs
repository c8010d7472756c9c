using System.Threading;

namespace CMap;

/// <summary>Test-only views of a shard's writer state. Never on a hot path.</summary>
internal sealed partial class Shard
{
    /// <summary>The size class the shard used for its last chunk (tests of the adaptive policy).</summary>
    internal int SizeClassForTests => Volatile.Read(ref _sizeClass);
}
