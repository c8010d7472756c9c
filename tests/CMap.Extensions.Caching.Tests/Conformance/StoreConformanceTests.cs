using CMap.Extensions.Caching.Tests.Stores;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Conformance;

/// <summary>The suite against CMap's adapter (fake clock: every case runs).</summary>
public sealed class CMapConformanceTests(CMapStore store, ITestOutputHelper output)
    : DistributedCacheConformance<CMapStore>(store, output);

/// <summary>The suite against RedisCache on a real redis-server (skips when the binary is missing).</summary>
public sealed class RedisServerConformanceTests(RedisServerStore store, ITestOutputHelper output)
    : DistributedCacheConformance<RedisServerStore>(store, output);

/// <summary>The suite against RedisCache on Garnet hosted in this process.</summary>
public sealed class GarnetConformanceTests(GarnetStore store, ITestOutputHelper output)
    : DistributedCacheConformance<GarnetStore>(store, output);
