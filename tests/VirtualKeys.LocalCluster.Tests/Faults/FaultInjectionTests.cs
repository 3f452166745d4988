using System.Net;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace VirtualKeys.LocalCluster.Tests.Faults;

/// <summary>Levers only the local server has: failures, dropped watches, expired history, latency, auth, history bounds.</summary>
public sealed class FaultInjectionTests : IAsyncLifetime
{
    private LocalApiServer _server = null!;
    private Kubernetes _client = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await LocalApiServer.StartAsync(new LocalApiServerOptions { WatchHistoryCapacity = 50 }, Token);
        _client = new Kubernetes(_server.CreateClientConfiguration());
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task FailNext_answers_the_chosen_status_for_matching_requests_then_recovers()
    {
        _server.Faults.FailNext(2, 503, resource: "secrets", verb: "list");
        await _client.CoreV1.ListNamespacedConfigMapAsync("default", cancellationToken: Token);
        for (var i = 0; i < 2; i++)
        {
            var error = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ListNamespacedSecretAsync("default", cancellationToken: Token));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, error.Response.StatusCode);
            Assert.Contains("\"reason\":\"ServiceUnavailable\"", error.Response.Content, StringComparison.Ordinal);
        }

        await _client.CoreV1.ListNamespacedSecretAsync("default", cancellationToken: Token);
    }

    [Fact]
    public async Task DropAllWatches_ends_open_watch_streams()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        using var response = await _client.HttpClient.GetAsync(new Uri(_client.BaseUri, "api/v1/namespaces/default/secrets?watch=true&resourceVersion=1"), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        await WaitForAsync(() => _server.OpenWatchCount > 0);
        Assert.Equal(1, _server.Faults.DropAllWatches());
        var rest = await response.Content.ReadAsStringAsync(timeout.Token);
        Assert.All(rest.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.Contains("\"BOOKMARK\"", line, StringComparison.Ordinal));
        await WaitForAsync(() => _server.OpenWatchCount == 0);
    }

    [Fact]
    public async Task ExpireWatchHistory_makes_a_resumed_watch_answer_410_Expired_as_an_ERROR_event()
    {
        var secret = await _client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { GenerateName = "h-" } }, "default", cancellationToken: Token);
        await _client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { GenerateName = "h-" } }, "default", cancellationToken: Token);
        _server.Faults.ExpireWatchHistory();
        var body = await _client.HttpClient.GetStringAsync(new Uri(_client.BaseUri, $"api/v1/namespaces/default/secrets?watch=true&resourceVersion={secret.Metadata.ResourceVersion}"), Token);
        using var line = JsonDocument.Parse(body.Split('\n')[0]);
        Assert.Equal("ERROR", line.RootElement.GetProperty("type").GetString());
        var status = line.RootElement.GetProperty("object");
        Assert.Equal("Status", status.GetProperty("kind").GetString());
        Assert.Equal(410, status.GetProperty("code").GetInt32());
        Assert.Equal("Expired", status.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task The_CSharp_client_sees_the_410_as_an_error_it_can_relist_on()
    {
        var secret = await _client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { GenerateName = "c-" } }, "default", cancellationToken: Token);
        await _client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { GenerateName = "c-" } }, "default", cancellationToken: Token);
        _server.Faults.ExpireWatchHistory();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        var response = _client.CoreV1.ListNamespacedSecretWithHttpMessagesAsync("default", watch: true, resourceVersion: secret.Metadata.ResourceVersion, cancellationToken: timeout.Token);
        Exception? seen = null;
        try
        {
            // The typed list-then-watch helper is what controllers built on this client use to resume.
#pragma warning disable CS0618
            await foreach (var (type, _) in response.WatchAsync<V1Secret, V1SecretList>(onError: e => seen = e, cancellationToken: timeout.Token))
#pragma warning restore CS0618
            {
                Assert.Equal(WatchEventType.Error, type);
                break;
            }
        }
        catch (KubernetesException e)
        {
            seen = e;
        }

        var kubernetesError = Assert.IsType<KubernetesException>(seen);
        Assert.Equal(410, kubernetesError.Status.Code);
    }

    [Fact]
    public async Task Resuming_older_than_the_bounded_history_window_answers_410()
    {
        var first = await _client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "w-" } }, "default", cancellationToken: Token);
        for (var i = 0; i < 60; i++)
        {
            await _client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "w-" } }, "default", cancellationToken: Token);
        }

        var body = await _client.HttpClient.GetStringAsync(new Uri(_client.BaseUri, $"api/v1/namespaces/default/configmaps?watch=true&resourceVersion={first.Metadata.ResourceVersion}"), Token);
        Assert.Contains("\"code\":410", body, StringComparison.Ordinal);
        Assert.Contains("too old resource version", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Latency_delays_every_request()
    {
        _server.Faults.Latency = TimeSpan.FromMilliseconds(300);
        var started = DateTime.UtcNow;
        await _client.CoreV1.ListNamespaceAsync(cancellationToken: Token);
        var elapsed = DateTime.UtcNow - started;
        _server.Faults.Reset();
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(250), $"took {elapsed}");
    }

    [Fact]
    public async Task A_configured_bearer_token_is_required()
    {
        await using var server = await LocalApiServer.StartAsync(new LocalApiServerOptions { BearerToken = "dev-token" }, Token);
        using var anonymous = new HttpClient();
        using var refused = await anonymous.GetAsync(new Uri(server.BaseAddress, "api/v1/namespaces"), Token);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using var client = new Kubernetes(server.CreateClientConfiguration());
        Assert.NotEmpty((await client.CoreV1.ListNamespaceAsync(cancellationToken: Token)).Items);
        Assert.Contains("token: \"dev-token\"", server.CreateKubeconfig(), StringComparison.Ordinal);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 10s");
            await Task.Delay(20, Token);
        }
    }
}
