using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace VirtualKeys.Testing;

public static class LocalAddresses
{
    /// <summary>
    /// An IPv4 address of this machine that is not loopback, if it has one: a connection made to it comes
    /// from it, so a server sees a caller from outside its loopback interface.
    /// </summary>
    public static IPAddress? NonLoopbackIPv4() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
}
