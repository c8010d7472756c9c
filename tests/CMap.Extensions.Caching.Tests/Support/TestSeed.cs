using System;
using System.Globalization;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Support;

/// <summary>
/// Seeds for the tests' randomness: a base (CMAP_CACHE_TEST_SEED, or a fixed default) mixed with a per-test salt, and
/// printed to the test's output so a failure can be replayed.
/// </summary>
internal static class TestSeed
{
    internal const string Variable = "CMAP_CACHE_TEST_SEED";

    internal static int Base
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable(Variable);
            return env is not null && int.TryParse(env, NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s : 20_261_201;
        }
    }

    /// <summary>The seed for one test (or one case of a theory), written to <paramref name="output"/>.</summary>
    internal static int For(ITestOutputHelper output, string salt)
    {
        int seed = unchecked(Base + StableHash(salt));
        output.WriteLine($"seed {seed} (base {Base} from {Variable}, salt '{salt}')");
        return seed;
    }

    // string.GetHashCode is randomized per process; this one is not, so a printed base seed replays the same values.
    private static int StableHash(string s)
    {
        unchecked
        {
            int h = (int)2166136261;
            foreach (char c in s)
            {
                h = (h ^ c) * 16777619;
            }

            return h;
        }
    }
}
