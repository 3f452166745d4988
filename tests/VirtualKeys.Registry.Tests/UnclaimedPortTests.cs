using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace VirtualKeys.Registry.Tests;

/// <summary>The port a throwaway PostgreSQL (and the tests' child processes) are given to bind later.</summary>
public sealed class UnclaimedPortTests
{
    [Fact]
    public void A_picked_port_is_below_the_ephemeral_range_and_can_be_listened_on()
    {
        var ephemeralStart = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], CultureInfo.InvariantCulture);

        var port = UnclaimedPort.Pick();

        Assert.InRange(port, 1024, ephemeralStart - 1);
        using var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
    }

    [Fact]
    public void A_port_something_listens_on_is_not_picked()
    {
        var taken = Enumerable.Range(0, 20).Select(_ => UnclaimedPort.Pick()).Distinct().Select(port =>
        {
            var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return listener;
        }).ToList();
        try
        {
            var takenPorts = taken.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToHashSet();
            var picks = Enumerable.Range(0, 200).Select(_ => UnclaimedPort.Pick());
            Assert.DoesNotContain(picks, takenPorts.Contains);
        }
        finally
        {
            taken.ForEach(l => l.Stop());
        }
    }
}
