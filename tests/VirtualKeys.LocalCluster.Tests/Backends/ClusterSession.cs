using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace VirtualKeys.LocalCluster.Tests.Backends;

/// <summary>What one test uses against a backend: the C# client, raw HTTP, and its own namespace.</summary>
public sealed class ClusterSession : IAsyncDisposable
{
    private readonly Kubernetes _client;

    private ClusterSession(Kubernetes client, string ns)
    {
        _client = client;
        Namespace = ns;
    }

    public Kubernetes Client => _client;

    public string Namespace { get; }

    public static CancellationToken Token => TestContext.Current.CancellationToken;

    public static async Task<ClusterSession> StartAsync(ClusterBackend backend)
    {
        backend.RequireAvailable();
        var ns = "t-" + Guid.NewGuid().ToString("N")[..10];
        await backend.Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } }, cancellationToken: Token);
        return new ClusterSession(backend.Client, ns);
    }

    public async Task<RawResponse> SendAsync(HttpMethod method, string path, string? body = null, string contentType = "application/json", string? accept = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(_client.BaseUri, path.TrimStart('/')));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using var response = await _client.HttpClient.SendAsync(request, Token);
        var text = await response.Content.ReadAsStringAsync(Token);
        var warnings = response.Headers.TryGetValues("Warning", out var values) ? values.ToList() : [];
        return new RawResponse((int)response.StatusCode, text, warnings, response.Content.Headers.ContentType?.MediaType);
    }

    public Task<RawResponse> GetAsync(string path, string? accept = null) => SendAsync(HttpMethod.Get, path, accept: accept);

    public Task<RawResponse> PostAsync(string path, JsonNode body) => SendAsync(HttpMethod.Post, path, body.ToJsonString());

    public Task<RawResponse> PatchAsync(string path, string patch, string contentType = "application/merge-patch+json") =>
        SendAsync(HttpMethod.Patch, path, patch, contentType);

    public string WidgetsPath => $"apis/{TestCrds.Group}/{TestCrds.Version}/namespaces/{Namespace}/{TestCrds.Widgets}";

    public string SecretsPath => $"api/v1/namespaces/{Namespace}/secrets";

    public static JsonObject Widget(string name, string color = "red", int? replicas = null)
    {
        var spec = new JsonObject { ["color"] = color };
        if (replicas is not null)
        {
            spec["replicas"] = replicas;
        }

        return new JsonObject
        {
            ["apiVersion"] = $"{TestCrds.Group}/{TestCrds.Version}",
            ["kind"] = "Widget",
            ["metadata"] = new JsonObject { ["name"] = name },
            ["spec"] = spec,
        };
    }

    public async Task<JsonNode> CreateWidgetAsync(string name, string color = "red", int? replicas = null)
    {
        var response = await PostAsync(WidgetsPath, Widget(name, color, replicas));
        Assert.True(response.Code == 201, response.Body);
        return response.Json!;
    }

    /// <summary>Polls until <paramref name="condition"/> holds; background work (GC, namespace cleanup) is asynchronous on any cluster.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out after {seconds}s waiting until {what}");
            }

            await Task.Delay(100, Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _client.CoreV1.DeleteNamespaceAsync(Namespace, cancellationToken: CancellationToken.None);
        }
        catch (k8s.Autorest.HttpOperationException)
        {
        }
    }
}
