using System;

namespace CMap.Buffer;

/// <summary>
/// The switch that arms CMap's test-only seams (failure injection, the unsafe no-grace-period mode, forced hash
/// collisions, injected compaction schedulers). Read once from the <c>CMap.TestHooks</c> AppContext switch into a
/// <c>static readonly</c>, so that in a process without the switch (every user's) the JIT folds each
/// <c>if (TestHooks.Enabled)</c> away and the seams cost nothing. The test projects set the switch in their
/// runtimeconfig, so CI exercises the very Release build users get.
/// </summary>
internal static class TestHooks
{
    /// <summary>The AppContext switch name.</summary>
    internal const string SwitchName = "CMap.TestHooks";

    /// <summary>True only in processes that set <see cref="SwitchName"/> (the test projects).</summary>
    internal static readonly bool Enabled = AppContext.TryGetSwitch(SwitchName, out bool on) && on;

    /// <summary>Throws unless the switch is on: a test seam was used in a process that did not arm them.</summary>
    internal static void Require(string what)
    {
        if (!Enabled)
        {
            ThrowHelper.ThrowInvalidOperation($"{what} is a test hook; set the AppContext switch '{SwitchName}' to use it.");
        }
    }
}
