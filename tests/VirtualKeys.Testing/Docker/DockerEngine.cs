using System.Net.Sockets;
using System.Text;

namespace VirtualKeys.Testing.Docker;

/// <summary>
/// Whether a Docker engine answers here. A docker CLI alone is not enough: the daemon's
/// /_ping must answer through DOCKER_HOST or /var/run/docker.sock.
/// </summary>
public static class DockerEngine
{
    public static async Task<string?> UnavailableReasonAsync(CancellationToken cancellationToken)
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            if (!string.IsNullOrEmpty(host) && host.StartsWith("tcp://", StringComparison.Ordinal))
            {
                var uri = new Uri(host.Replace("tcp://", "http://", StringComparison.Ordinal));
                using var http = new HttpClient();
                var answer = await http.GetStringAsync(new Uri(uri, "/_ping"), timeout.Token);
                return answer.Trim() == "OK" ? null : $"Docker at {host} did not answer /_ping with OK";
            }

            var socketPath = !string.IsNullOrEmpty(host) && host.StartsWith("unix://", StringComparison.Ordinal)
                ? host["unix://".Length..]
                : "/var/run/docker.sock";
            if (!File.Exists(socketPath))
            {
                return $"{socketPath} does not exist and DOCKER_HOST is not a reachable tcp:// address";
            }

            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), timeout.Token);
            await socket.SendAsync(Encoding.ASCII.GetBytes("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"), timeout.Token);
            var buffer = new byte[1024];
            var read = await socket.ReceiveAsync(buffer, timeout.Token);
            var response = Encoding.ASCII.GetString(buffer, 0, read);
            return response.Contains(" 200 ", StringComparison.Ordinal) ? null : $"Docker at {socketPath} did not answer /_ping";
        }
        catch (Exception e) when (e is SocketException or HttpRequestException or OperationCanceledException or IOException or UriFormatException)
        {
            return $"nothing answers /_ping ({e.GetType().Name}: {e.Message})";
        }
    }
}
