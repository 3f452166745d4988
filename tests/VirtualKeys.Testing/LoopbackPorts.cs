using System.Net;
using System.Net.Sockets;

namespace VirtualKeys.Testing;

public static class LoopbackPorts
{
    /// <summary>A loopback port nothing listens on right now (the system's pick; free until someone takes it).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
