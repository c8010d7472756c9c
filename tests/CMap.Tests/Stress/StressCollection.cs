using Xunit;

namespace CMap.Tests.Stress;

/// <summary>
/// The concurrency stress tests (and the allocation tests, which must not share the process-wide epoch with other
/// tests' readers) run alone: xunit runs a collection with parallelization disabled after the parallel ones, one
/// test at a time, so each gets both cores of a 2-core CI machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StressCollection
{
    public const string Name = "CMap concurrency stress (not parallel)";
}
