using System;
using System.Net;
using System.Threading.Tasks;
using CMap.Extensions.Caching.Tests.Support;
using Garnet;
using Garnet.server;
using Microsoft.Extensions.Caching.StackExchangeRedis;

namespace CMap.Extensions.Caching.Tests.Stores;

/// <summary>
/// RedisCache on Garnet (Microsoft.Garnet), hosted in this process on a free loopback port with a small in-memory
/// store and no persistence, disposed when the class's tests end.
/// </summary>
public sealed class GarnetStore : CacheStore
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(15);

    private GarnetServer? _server;
    private RedisCache? _cache;

    public override string Name => "RedisCache on Garnet (in-process)";

    public override string? NoFakeClockReason =>
        "needs a fake clock: Garnet measures expiry on its own clock, which a test cannot move (the real-clock expiry case covers it)";

    public int Port { get; private set; }

    public override async ValueTask InitializeAsync()
    {
        Exception? last = null;
        for (int attempt = 1; attempt <= 3 && _server is null; attempt++)
        {
            int port = LoopbackPort.Free();
            GarnetServer? server = null;
            try
            {
                server = new GarnetServer(Options(port));
                server.Start();
                // Start() binds and listens before it returns: one PING confirms the server answers.
                if (await RespPing.TryAsync(port, s_startTimeout))
                {
                    _server = server;
                    Port = port;
                    server = null;
                }
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or InvalidOperationException or Garnet.common.GarnetException)
            {
                last = e;
            }
            finally
            {
                server?.Dispose();
            }
        }

        if (_server is null)
        {
            // Garnet is a package this project restores, so failing to start it is a failure, not a skip.
            throw new InvalidOperationException($"Garnet did not start on a loopback port in three attempts: {last}");
        }

        _cache = RedisCaches.Create(Port, "cmap-conformance:");
    }

    public override ValueTask DisposeAsync()
    {
        _cache?.Dispose();
        _server?.Dispose();
        return ValueTask.CompletedTask;
    }

    public override CacheSession OpenSession(string testName)
    {
        ObjectDisposedException.ThrowIf(_cache is null, this);
        return new CacheSession(_cache, $"{testName}:{Guid.NewGuid():N}:", null, null);
    }

    // Small memory (the defaults are a 16 GiB log and a 128 MiB index, sized for a real server): a 64 MiB log in
    // 4 MiB pages holds the suite's largest values (1 MiB) many times over.
    private static GarnetServerOptions Options(int port) => new()
    {
        EndPoints = [new IPEndPoint(IPAddress.Loopback, port)],
        LogMemorySize = "64m",
        PageSize = "4m",
        IndexMemorySize = "1m",
        QuietMode = true,
        EnableAOF = false,
        EnableStorageTier = false,
        EnableCluster = false,
    };
}
