using System;
using System.Threading;
using CMap.Buffer;
using Xunit;

namespace CMap.Buffer.Tests;

/// <summary>A thread parked inside a region of one epoch domain until disposed (every wait bounded).</summary>
internal sealed unsafe class ParkedReader : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _leave = new();

    internal ParkedReader(EpochDomain domain)
    {
        using var entered = new ManualResetEventSlim();
        _thread = new Thread(() =>
        {
            long* slot = domain.Enter();
            entered.Set();
            _leave.Wait(s_timeout);
            EpochDomain.Exit(slot);
        });
        _thread.Start();
        Assert.True(entered.Wait(s_timeout), "the reader never entered");
    }

    /// <summary>Lets the reader leave and waits for it.</summary>
    internal void Leave()
    {
        _leave.Set();
        Assert.True(_thread.Join(s_timeout), "the reader never left");
    }

    public void Dispose()
    {
        if (_thread.IsAlive)
        {
            Leave();
        }

        _leave.Dispose();
    }
}
