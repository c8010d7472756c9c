using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Reflection;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Stores;
using CMap.Extensions.Caching.Tests.Support;
using Xunit;

namespace CMap.Extensions.Caching.Tests.Samples;

/// <summary>
/// The samples do what they say: each runs as its own process (built with this project, see its csproj), bounded in
/// time, and is killed if it outlives its deadline.
/// </summary>
public sealed class SamplesSmokeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_HybridCache_sample_calls_its_factory_once_then_again_after_the_tag_is_invalidated()
    {
        using var app = SampleProcess.Start(SamplePath("CMap.Samples.HybridCache"));
        Assert.True(await app.WaitForExitAsync(s_deadline), $"the sample did not finish within {s_deadline.TotalSeconds} s");
        string stdout = app.Output;
        output.WriteLine(stdout);
        Assert.Equal(0, app.ExitCode);
        Assert.Equal(3, stdout.Split('\n').Count(l => l.Contains("(loads so far: 1)", StringComparison.Ordinal)));
        Assert.Contains("after RemoveByTagAsync: loads 2", stdout, StringComparison.Ordinal);
        Assert.Contains("L2: 2 entries", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_web_API_sample_serves_a_product_from_the_cache_the_second_time()
    {
        int port = LoopbackPort.Free();
        // ASP.NET Core logs "Now listening on: <url>" once Kestrel is bound: the signal that the app can be called.
        var listening = new LineSignal("Now listening on:");
        using var app = SampleProcess.Start(SamplePath("CMap.Samples.WebApi"), listening, "--urls", $"http://127.0.0.1:{port}");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        Assert.True(await listening.WaitAsync(s_deadline), $"the web API sample never started listening: {app.Output}");
        Assert.False(app.HasExited, $"the sample exited: {app.Output}");
        Assert.True((await http.GetAsync(new Uri("/cache/stats", UriKind.Relative), Ct)).IsSuccessStatusCode, "the web API sample did not answer once listening");

        string first = await http.GetStringAsync(new Uri("/products/7", UriKind.Relative), Ct);
        string second = await http.GetStringAsync(new Uri("/products/7", UriKind.Relative), Ct);
        Assert.Equal(first, second);
        using (JsonDocument product = JsonDocument.Parse(first))
        {
            Assert.Equal(7, product.RootElement.GetProperty("id").GetInt32());
        }

        using JsonDocument stats = JsonDocument.Parse(await http.GetStringAsync(new Uri("/cache/stats", UriKind.Relative), Ct));
        output.WriteLine(stats.RootElement.ToString());
        Assert.Equal(1, stats.RootElement.GetProperty("hits").GetInt64());
        Assert.Equal(1, stats.RootElement.GetProperty("misses").GetInt64());
        Assert.Equal(1, stats.RootElement.GetProperty("count").GetInt64());
        Assert.Equal(268435456, stats.RootElement.GetProperty("maxBytes").GetInt64()); // bound from its appsettings.json

        using HttpResponseMessage removed = await http.DeleteAsync(new Uri("/products/7/cache", UriKind.Relative), Ct);
        Assert.Equal(System.Net.HttpStatusCode.NoContent, removed.StatusCode);
    }

    private static string SamplePath(string name)
    {
        string pattern = typeof(SamplesSmokeTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SamplesBuildOutput").Value!;
        string path = string.Format(System.Globalization.CultureInfo.InvariantCulture, pattern, name);
        Assert.True(File.Exists(path), $"{path} is missing: the samples build with this test project (see its csproj)");
        return path;
    }

    /// <summary>A sample run with <c>dotnet</c>, its output captured, killed (bounded wait) when disposed.</summary>
    private sealed class SampleProcess : IDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();

        private SampleProcess(Process process) => _process = process;

        public bool HasExited => _process.HasExited;

        public int ExitCode => _process.ExitCode;

        public string Output => string.Join('\n', _lines);

        public static SampleProcess Start(string dll, params string[] args) => Start(dll, null, args);

        /// <summary>Starts the sample; every line it prints is also offered to <paramref name="signal"/>, which its exit abandons.</summary>
        public static SampleProcess Start(string dll, LineSignal? signal, params string[] args)
        {
            string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
                ? host
                : RedisServerStore.FindOnPath("dotnet") ?? "dotnet";
            var psi = new ProcessStartInfo(dotnet)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = Path.GetDirectoryName(dll)!,
            };
            psi.ArgumentList.Add(dll);
            foreach (string a in args)
            {
                psi.ArgumentList.Add(a);
            }

            var sample = new SampleProcess(new Process { StartInfo = psi, EnableRaisingEvents = signal is not null });
            sample._process.OutputDataReceived += (_, e) =>
            {
                sample.Add(e.Data);
                signal?.Offer(e.Data);
            };
            if (signal is not null)
            {
                sample._process.Exited += (_, _) => signal.Abandon();
            }

            sample._process.ErrorDataReceived += (_, e) => sample.Add(e.Data);
            sample._process.Start();
            sample._process.BeginOutputReadLine();
            sample._process.BeginErrorReadLine();
            return sample;
        }

        public async Task<bool> WaitForExitAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(cts.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(TimeSpan.FromSeconds(10));
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            _process.Dispose();
        }

        private void Add(string? line)
        {
            if (line is not null)
            {
                _lines.Enqueue(line);
            }
        }
    }
}
