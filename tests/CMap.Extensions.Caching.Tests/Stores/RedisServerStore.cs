using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Support;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Options;

namespace CMap.Extensions.Caching.Tests.Stores;

/// <summary>
/// RedisCache (Microsoft.Extensions.Caching.StackExchangeRedis) on a real redis-server that this fixture starts from
/// PATH on a free loopback port, without persistence, and kills (bounded wait) when the class's tests end. Without the
/// binary, every test reports a skip naming it.
/// </summary>
public sealed class RedisServerStore : CacheStore
{
    internal const string Binary = "redis-server";
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<string> _log = new();
    private Process? _server;
    private RedisCache? _cache;

    public override string Name => "RedisCache on redis-server";

    public override string? NoFakeClockReason =>
        "needs a fake clock: redis-server measures expiry on its own clock, which a test cannot move (the real-clock expiry case covers it)";

    public int Port { get; private set; }

    public override async ValueTask InitializeAsync()
    {
        string? path = FindOnPath(Binary);
        if (path is null)
        {
            SkipReason = $"{Binary} was not found on PATH (install it: apt-get install -y redis-server; .ci/run does)";
            return;
        }

        // A free port is the OS's pick of a moment ago: should another process take it first, try another.
        for (int attempt = 1; attempt <= 3 && _server is null; attempt++)
        {
            int port = LoopbackPort.Free();
            var ready = new LineSignal("Ready to accept connections");
            Process p = Start(path, port, ready);
            if (await ready.WaitAsync(s_startTimeout) && !p.HasExited && await RespPing.TryAsync(port, s_startTimeout))
            {
                _server = p;
                Port = port;
            }
            else
            {
                await StopAsync(p);
                p.Dispose();
            }
        }

        if (_server is null)
        {
            SkipReason = $"{path} did not answer PING within {s_startTimeout.TotalSeconds} s on three ports; its output: {string.Join(" | ", _log.TakeLast(20))}";
            return;
        }

        _cache = RedisCaches.Create(Port, "cmap-conformance:");
    }

    public override async ValueTask DisposeAsync()
    {
        _cache?.Dispose();
        if (_server is not null)
        {
            await StopAsync(_server);
            _server.Dispose();
        }
    }

    public override CacheSession OpenSession(string testName)
    {
        ObjectDisposedException.ThrowIf(_cache is null, this);
        return new CacheSession(_cache, $"{testName}:{Guid.NewGuid():N}:", null, null);
    }

    private Process Start(string path, int port, LineSignal ready)
    {
        var psi = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (string arg in (string[])["--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            psi.ArgumentList.Add(arg);
        }

        var p = new Process { StartInfo = psi, EnableRaisingEvents = true };
        p.OutputDataReceived += (_, e) =>
        {
            Log(e.Data);
            ready.Offer(e.Data);
        };
        p.ErrorDataReceived += (_, e) => Log(e.Data);
        p.Exited += (_, _) => ready.Abandon();
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private void Log(string? line)
    {
        if (line is not null)
        {
            _log.Enqueue(line);
            while (_log.Count > 200 && _log.TryDequeue(out _))
            {
            }
        }
    }

    private static async Task StopAsync(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
            }

            using var cts = new CancellationTokenSource(s_stopTimeout);
            await p.WaitForExitAsync(cts.Token);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or it would not die within the timeout: nothing more a test run can do.
        }
    }

    internal static string? FindOnPath(string binary)
    {
        string? pathVariable = Environment.GetEnvironmentVariable("PATH");
        if (string.IsNullOrEmpty(pathVariable))
        {
            return null;
        }

        foreach (string dir in pathVariable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, binary);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

/// <summary>RedisCache instances pointed at a loopback server.</summary>
internal static class RedisCaches
{
    internal static RedisCache Create(int port, string instanceName) => new(Options.Create(new RedisCacheOptions
    {
        ConfigurationOptions = new StackExchange.Redis.ConfigurationOptions
        {
            EndPoints = { { "127.0.0.1", port } },
            AbortOnConnectFail = false,
            ConnectTimeout = 10_000,
            SyncTimeout = 15_000,
            AsyncTimeout = 15_000,
        },
        InstanceName = instanceName,
    }));
}
