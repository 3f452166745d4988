using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace VirtualKeys.LocalPostgres;

/// <summary>
/// A loopback port for a server that binds it later (a postmaster after initdb, a child process),
/// chosen below the system's ephemeral range: a port the system handed out and took back would be
/// free for any other program's bind to port 0 or outgoing connection meanwhile, on a machine that
/// starts hundreds of servers in a test run. Below the range only another explicit choice can take it.
/// </summary>
public static class UnclaimedPort
{
    private const string EphemeralRange = "/proc/sys/net/ipv4/ip_local_port_range";
    private const int LowestChoice = 10_000;
    private const int Attempts = 50;

    /// <summary>A port nothing listens on now, outside the ephemeral range where the system allows it.</summary>
    public static int Pick()
    {
        var ephemeralStart = EphemeralStart();
        if (ephemeralStart > LowestChoice + 1_000)
        {
            for (var attempt = 0; attempt < Attempts; attempt++)
            {
                var port = Random.Shared.Next(LowestChoice, ephemeralStart);
                if (IsFree(port))
                {
                    return port;
                }
            }
        }

        // No room below the range (or everything tried was taken): the system's pick.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int EphemeralStart()
    {
        try
        {
            var first = File.ReadAllText(EphemeralRange).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0];
            return int.Parse(first, NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            // Not Linux, or not readable: the IANA dynamic range.
            return 49_152;
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
