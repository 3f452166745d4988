using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Observability;
using VirtualKeys.Sidecar.Tests.Support;
using VirtualKeys.Testing;

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
}
