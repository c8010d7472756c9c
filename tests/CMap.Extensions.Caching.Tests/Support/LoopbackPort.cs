using System.Net;
using System.Net.Sockets;

namespace CMap.Extensions.Caching.Tests.Support;

/// <summary>Loopback ports for the servers the tests start.</summary>
internal static class LoopbackPort
{
    /// <summary>A port on 127.0.0.1 that was free a moment ago (the OS's pick; a server that loses the race retries).</summary>
    internal static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
