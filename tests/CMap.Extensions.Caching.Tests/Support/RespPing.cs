using System;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace CMap.Extensions.Caching.Tests.Support;

/// <summary>Readiness probe for a RESP server (redis-server, Garnet): PING on a fresh connection, answered +PONG.</summary>
internal static class RespPing
{
    /// <summary>True when a server on 127.0.0.1:<paramref name="port"/> answers PING within <paramref name="timeout"/>.</summary>
    internal static async Task<bool> TryAsync(int port, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            NetworkStream stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cts.Token);
            var buffer = new byte[64];
            int read = await stream.ReadAsync(buffer, cts.Token);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or System.IO.IOException)
        {
            return false;
        }
    }
}
