using System;
using System.Threading.Tasks;

namespace CMap.Extensions.Caching.Tests.Support;

/// <summary>
/// Set when a process prints a line containing <paramref name="marker"/> (a server's "ready" line), or when it exits:
/// a readiness signal to wait on with a timeout, instead of polling.
/// </summary>
internal sealed class LineSignal(string marker)
{
    private readonly TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Feed every output line here.</summary>
    public void Offer(string? line)
    {
        if (line is not null && line.Contains(marker, StringComparison.Ordinal))
        {
            _seen.TrySetResult();
        }
    }

    /// <summary>The process exited: nobody will print the line; wake the waiter (it checks HasExited).</summary>
    public void Abandon() => _seen.TrySetResult();

    /// <summary>True when the line was seen (or the process exited) within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout)
    {
        try
        {
            await _seen.Task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
