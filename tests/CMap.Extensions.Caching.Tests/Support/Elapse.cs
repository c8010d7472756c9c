using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace CMap.Extensions.Caching.Tests.Support;

/// <summary>
/// Waits on real time for what only real time can show (a server's expiry): a timer from the system clock signals the
/// instant, and the wait on that signal has its own timeout.
/// </summary>
internal static class Elapse
{
    private static readonly TimeSpan s_slack = TimeSpan.FromSeconds(30);

    /// <summary>Returns once <paramref name="since"/> shows at least <paramref name="at"/>.</summary>
    internal static async Task UntilAsync(Stopwatch since, TimeSpan at, CancellationToken token)
    {
        TimeSpan left = at - since.Elapsed;
        if (left <= TimeSpan.Zero)
        {
            return;
        }

        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using ITimer timer = TimeProvider.System.CreateTimer(static s => ((TaskCompletionSource)s!).TrySetResult(), reached, left, Timeout.InfiniteTimeSpan);
        await reached.Task.WaitAsync(left + s_slack, token);
    }
}
