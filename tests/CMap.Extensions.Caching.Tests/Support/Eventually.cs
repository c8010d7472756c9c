using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Support;

/// <summary>Bounded waits: every poll has a deadline, and running past it fails the test with a message.</summary>
internal static class Eventually
{
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(20);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="message"/> after <paramref name="timeout"/>.</summary>
    internal static async Task TrueAsync(Func<bool> condition, TimeSpan timeout, string message, CancellationToken token = default)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
            {
                Assert.Fail($"{message} (waited {sw.Elapsed.TotalSeconds:F1} s)");
            }

            await Task.Delay(s_poll, token);
        }
    }

    /// <summary>As <see cref="TrueAsync(Func{bool}, TimeSpan, string, CancellationToken)"/> for an asynchronous condition.</summary>
    internal static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string message, CancellationToken token = default)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            if (sw.Elapsed > timeout)
            {
                Assert.Fail($"{message} (waited {sw.Elapsed.TotalSeconds:F1} s)");
            }

            await Task.Delay(s_poll, token);
        }
    }
}
