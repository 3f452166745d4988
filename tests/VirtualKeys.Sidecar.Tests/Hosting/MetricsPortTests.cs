using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Observability;
using VirtualKeys.Sidecar.Tests.Support;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Metrics;

namespace VirtualKeys.Sidecar.Tests.Hosting;

/// <summary>
/// The metrics port (<c>Sidecar__MetricsPort</c>): Prometheus and the kubelet reach the metrics and the
/// probes from outside the pod, while the API, which hands out provider credentials, stays on loopback.
/// </summary>
public sealed class MetricsPortTests
{
    private const int ApiPort = 8787;
    private const int MetricsPort = 9464;

    [Theory]
    [InlineData(MetricsPort, "10.1.2.3", "GET", "/metrics", 200)]
    [InlineData(MetricsPort, "10.1.2.3", "GET", "/healthz", 200)]
    [InlineData(MetricsPort, "2001:db8::1", "GET", "/readyz", 200)]
    [InlineData(MetricsPort, "10.1.2.3", "POST", "/v1/resolve", 404)]
    [InlineData(MetricsPort, "10.1.2.3", "POST", "/v1/chat/completions", 404)]
    [InlineData(MetricsPort, "127.0.0.1", "POST", "/v1/usage", 404)]
    [InlineData(MetricsPort, "127.0.0.1", "GET", "/openapi.json", 404)]
    [InlineData(MetricsPort, "10.1.2.3", "GET", "/Metrics", 404)]
    [InlineData(MetricsPort, "10.1.2.3", "GET", "/metrics/", 404)]
    [InlineData(MetricsPort, "10.1.2.3", "GET", "/metrics/v1/resolve", 404)]
    [InlineData(MetricsPort, "10.1.2.3", "GET", "/readyz/x", 404)]
    [InlineData(ApiPort, "10.1.2.3", "GET", "/metrics", 403)]
    [InlineData(ApiPort, "127.0.0.1", "POST", "/v1/resolve", 200)]
    public async Task The_metrics_port_serves_metrics_and_probes_to_anyone_and_nothing_else(int localPort, string remote, string method, string path, int expected)
    {
        var options = new SidecarOptions { Port = ApiPort, MetricsPort = MetricsPort };
        var passedOn = false;
        var middleware = new SidecarMiddleware(
            _ =>
            {
                passedOn = true;
                return Task.CompletedTask;
            },
            options,
            new SidecarMetrics(options),
            NullLogger<SidecarMiddleware>.Instance);
        var context = new DefaultHttpContext();
        context.Connection.LocalPort = localPort;
        context.Connection.RemoteIpAddress = IPAddress.Parse(remote);
        context.Request.Method = method;
        context.Request.Path = path;
        context.Response.Body = new MemoryStream();

        await middleware.InvokeAsync(context);
        await context.Response.CompleteAsync();

        Assert.Equal(expected, context.Response.StatusCode);
        Assert.Equal(expected == 200, passedOn);
    }

    // Over real sockets: from this machine's own non-loopback address where it has one (the connection's
    // source is then not 127.0.0.1), else over loopback.
    [Fact]
    public async Task Prometheus_scrapes_the_metrics_port_and_cannot_resolve_a_key_through_it()
    {
        var port = LoopbackPorts.Free();
        await using var sidecar = await TestSidecar.StartAsync(o => o.MetricsPort = port);
        var (_, token) = await sidecar.AddKeyAsync();
        var address = LocalAddresses.NonLoopbackIPv4() ?? IPAddress.Loopback;
        using var scraper = new HttpClient { BaseAddress = new Uri($"http://{address}:{port}/"), Timeout = TimeSpan.FromSeconds(20) };

        var metrics = await scraper.GetStringAsync("/metrics", TestSidecar.Cancel);
        using var ready = await scraper.GetAsync("/readyz", TestSidecar.Cancel);
        using var resolveThere = await scraper.PostAsync("/v1/resolve", TestSidecar.Json(new JsonObject { ["virtualKey"] = token }), TestSidecar.Cancel);
        using var resolveOnApi = await sidecar.ResolveAsync(token);

        Assert.Contains("vk_sidecar_snapshot_keys 1", metrics, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var error = await ErrorAssert.IsErrorAsync(resolveThere, HttpStatusCode.NotFound, "not_found");
        Assert.Contains("metrics port", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, resolveOnApi.StatusCode);
    }

    // Prometheus and the kubelet only GET the three paths: anything else on the port is someone else,
    // and shows apart from the router's mistakes on the API, which count among the refusals.
    [Fact]
    public async Task What_the_metrics_port_refuses_is_counted_apart_from_the_APIs_refusals()
    {
        var port = LoopbackPorts.Free();
        await using var sidecar = await TestSidecar.StartAsync(o => o.MetricsPort = port);
        using var scraper = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(20) };

        using var resolveThere = await scraper.PostAsync("/v1/resolve", TestSidecar.Json(new JsonObject()), TestSidecar.Cancel);
        using var postHealth = await scraper.PostAsync("/healthz", TestSidecar.Json(new JsonObject()), TestSidecar.Cancel);
        using var wrongApiPath = await sidecar.Client.GetAsync("/v1/resolv", TestSidecar.Cancel);
        var metrics = await scraper.GetStringAsync("/metrics", TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.NotFound, resolveThere.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, postHealth.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, wrongApiPath.StatusCode);
        Assert.Equal(2, MetricFamilies.Sample(metrics, "vk_sidecar_metrics_port_refused_total{reason=\"not_served\"}"));
        Assert.Equal(0, MetricFamilies.Sample(metrics, "vk_sidecar_metrics_port_refused_total{reason=\"request_limit\"}"));
        Assert.Equal(1, MetricFamilies.Sample(metrics, "vk_sidecar_rejections_total{key=\"\",reason=\"not_found\"}"));
    }

    // Whoever reaches the pod can hold connections open on the metrics port: they must not keep the
    // kubelet's probes out (a failing liveness probe restarts the sidecar), so the port bounds requests
    // in progress, not connections.
    [Fact]
    public async Task Idle_connections_beyond_the_request_limit_do_not_keep_the_probes_out()
    {
        var port = LoopbackPorts.Free();
        await using var sidecar = await TestSidecar.StartAsync(o =>
        {
            o.MetricsPort = port;
            o.MetricsPortMaxRequests = 2;
        });

        var idle = new List<RawConnection>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                idle.Add(await RawConnection.OpenAsync(port));
            }

            using var probe = await RawConnection.OpenAsync(port);
            var healthz = await probe.GetAsync("/healthz");
            var metrics = await probe.GetAsync("/metrics");

            Assert.StartsWith("HTTP/1.1 200", healthz, StringComparison.Ordinal);
            Assert.StartsWith("HTTP/1.1 200", metrics, StringComparison.Ordinal);
            Assert.Contains("vk_sidecar_metrics_port_refused_total{reason=\"request_limit\"} 0\n", metrics, StringComparison.Ordinal);
        }
        finally
        {
            idle.ForEach(connection => connection.Dispose());
        }
    }

    // Requests in progress beyond the limit (scrapes held up by a slow reader, say) are answered 503
    // at once and counted, and the port serves again as soon as one ends.
    [Fact]
    public async Task Requests_beyond_the_limit_in_progress_are_answered_503_and_counted()
    {
        var options = new SidecarOptions { Port = ApiPort, MetricsPort = MetricsPort, MetricsPortMaxRequests = 2 };
        var metrics = new SidecarMetrics(options);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var middleware = new SidecarMiddleware(_ => held.Task, options, metrics, NullLogger<SidecarMiddleware>.Instance);

        var first = middleware.InvokeAsync(Scrape());
        var second = middleware.InvokeAsync(Scrape());
        var third = Scrape();
        await middleware.InvokeAsync(third);
        held.SetResult();
        await Task.WhenAll(first, second);
        var fourth = Scrape();
        await middleware.InvokeAsync(fourth);

        Assert.Equal(503, third.Response.StatusCode);
        Assert.Equal(200, fourth.Response.StatusCode);
        using var exposition = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(exposition, TestSidecar.Cancel);
        Assert.Equal(1, MetricFamilies.Sample(Encoding.UTF8.GetString(exposition.ToArray()), "vk_sidecar_metrics_port_refused_total{reason=\"request_limit\"}"));

        static DefaultHttpContext Scrape()
        {
            var context = new DefaultHttpContext();
            context.Connection.LocalPort = MetricsPort;
            context.Connection.RemoteIpAddress = IPAddress.Parse("10.1.2.3");
            context.Request.Method = "GET";
            context.Request.Path = "/metrics";
            context.Response.Body = new MemoryStream();
            return context;
        }
    }

    [Fact]
    public void A_metrics_port_request_limit_below_one_is_refused_at_start()
    {
        var options = new SidecarOptions { Port = ApiPort, MetricsPort = MetricsPort, MetricsPortMaxRequests = 0 };

        var error = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.Contains("MetricsPortMaxRequests must be positive", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, null, "MetricsPort 0 is out of range")]
    [InlineData(70000, null, "MetricsPort 70000 is out of range")]
    [InlineData(ApiPort, null, "MetricsPort 8787 is the API's Port too")]
    [InlineData(MetricsPort, "every-address", "MetricsListenAddress 'every-address' is not an IP address")]
    public void A_metrics_port_that_cannot_work_is_refused_at_start(int metricsPort, string? address, string problem)
    {
        var options = new SidecarOptions { Port = ApiPort, MetricsPort = metricsPort, MetricsListenAddress = address };

        var error = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    /// <summary>A kept-alive HTTP/1.1 connection written by hand, so a test holds it open as long as it likes.</summary>
    private sealed class RawConnection : IDisposable
    {
        private readonly TcpClient _client;

        private RawConnection(TcpClient client) => _client = client;

        public static async Task<RawConnection> OpenAsync(int port)
        {
            var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, TestSidecar.Cancel);
            return new RawConnection(client);
        }

        /// <summary>The whole answer as text, or null when the server closed the connection instead of answering.</summary>
        public async Task<string?> GetAsync(string path)
        {
            using var patience = TestSidecar.Within(TimeSpan.FromSeconds(20));
            var stream = _client.GetStream();
            var answer = new StringBuilder();
            var buffer = new byte[64 * 1024];
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: sidecar\r\n\r\n"), patience.Token);
                while (!IsComplete(answer.ToString()))
                {
                    var read = await stream.ReadAsync(buffer, patience.Token);
                    if (read == 0)
                    {
                        return null;
                    }

                    answer.Append(Encoding.UTF8.GetString(buffer, 0, read));
                }
            }
            catch (IOException)
            {
                // Reset rather than closed: the server did not read what was sent.
                return null;
            }

            return answer.ToString();
        }

        public void Dispose() => _client.Dispose();

        // Headers ended and the body as long as Content-Length says (the endpoints here send one, or chunk).
        private static bool IsComplete(string answer)
        {
            var headersEnd = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headersEnd < 0)
            {
                return false;
            }

            var headers = answer[..headersEnd];
            var body = answer.Length - headersEnd - 4;
            foreach (var line in headers.Split("\r\n"))
            {
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                {
                    return body >= int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            return answer.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal);
        }
    }
}
