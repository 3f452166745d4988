using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace VirtualKeys.LocalCluster.Tests.Metrics;

/// <summary>The server counts what it was asked, so a benchmark can count a client's writes where they land.</summary>
public sealed class ApiRequestCountsTests : IAsyncLifetime
{
    private LocalApiServer _server = null!;
    private Kubernetes _client = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await LocalApiServer.StartAsync(new LocalApiServerOptions(), Token);
        _client = new Kubernetes(_server.CreateClientConfiguration());
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Each_request_is_counted_under_its_verb_resource_and_subresource()
    {
        var before = _server.Requests.Writes;
        var secret = await _client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "counted" } }, "default", cancellationToken: Token);
        secret.StringData = new Dictionary<string, string> { ["k"] = "v" };
        await _client.CoreV1.ReplaceNamespacedSecretAsync(secret, "counted", "default", cancellationToken: Token);
        await _client.CoreV1.ReadNamespacedSecretAsync("counted", "default", cancellationToken: Token);
        await _client.CoreV1.ListNamespacedSecretAsync("default", cancellationToken: Token);
        await _client.CoreV1.ReadNamespaceStatusAsync("default", cancellationToken: Token);

        Assert.Equal(1, _server.Requests.Count("create", "secrets"));
        Assert.Equal(1, _server.Requests.Count("update", "secrets"));
        Assert.Equal(1, _server.Requests.Count("get", "secrets"));
        Assert.Equal(1, _server.Requests.Count("list", "secrets"));
        Assert.Equal(1, _server.Requests.Count("get", "namespaces", "status"));
        Assert.Equal(0, _server.Requests.Count("get", "namespaces", ""));
        Assert.Equal(2, _server.Requests.Writes - before);
        Assert.Equal(1, _server.Requests.Snapshot()[new ApiRequestKind("create", "secrets", "")]);
    }

    [Fact]
    public async Task Refused_requests_count_too_and_discovery_does_not()
    {
        await _client.CoreV1.GetAPIResourcesAsync(cancellationToken: Token);
        var refused = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.DeleteNamespacedSecretAsync("absent", "default", cancellationToken: Token));
        Assert.Equal(HttpStatusCode.NotFound, refused.Response.StatusCode);

        Assert.Equal(1, _server.Requests.Count("delete", "secrets"));
        Assert.Equal(1, _server.Requests.Writes);
        Assert.Equal(1, _server.Requests.Count());
    }
}
