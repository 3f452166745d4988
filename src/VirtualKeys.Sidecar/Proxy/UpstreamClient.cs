using System.Net;
using VirtualKeys.Sidecar.Hosting;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// The one connection pool to all providers. No automatic decompression (usage is read from the bytes
/// as they pass, and Accept-Encoding is not forwarded), no redirects, no cookies, no system proxy.
/// </summary>
internal sealed class UpstreamClient : IDisposable
{
    public UpstreamClient(SidecarOptions options)
    {
        Invoker = new HttpMessageInvoker(
            new SocketsHttpHandler
            {
                UseProxy = false,
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
                EnableMultipleHttp2Connections = true,
                ConnectTimeout = options.UpstreamConnectTimeout,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            },
            disposeHandler: true);
    }

    public HttpMessageInvoker Invoker { get; }

    public void Dispose() => Invoker.Dispose();
}
