using System.Net;
using System.Text;
using VirtualKeys.Sidecar.Hosting;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// The one connection pool to all providers. No automatic decompression (usage is read from the bytes
/// as they pass, and Accept-Encoding is not forwarded), no redirects, no cookies, no system proxy, and
/// no trace headers: the sidecar's request ids are nothing a provider needs (and skipping them skips
/// HttpClient's diagnostics layer on every request).
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
                ActivityHeadersPropagator = null,
                EnableMultipleHttp2Connections = true,
                ConnectTimeout = options.UpstreamConnectTimeout,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),

                // Kestrel reads header values as UTF-8; forwarded the same way, a client's non-ASCII
                // header reaches the provider as it was sent instead of failing every attempt.
                RequestHeaderEncodingSelector = static (_, _) => Encoding.UTF8,

                // A provider's header bytes, one character each, which Kestrel writes back byte for byte
                // (SidecarApp): a header that is not ASCII passes through as the provider sent it.
                ResponseHeaderEncodingSelector = static (_, _) => Encoding.Latin1,
            },
            disposeHandler: true);
    }

    public HttpMessageInvoker Invoker { get; }

    public void Dispose() => Invoker.Dispose();
}
