using System.Net;
using System.Text;
using k8s;

namespace VirtualKeys.LocalCluster.Tests.Faults;

/// <summary>
/// CRD installation and removal, on a server of its own (the conformance backends share their
/// CRDs between test classes, so removing one there would disturb the others).
/// </summary>
public sealed class CrdLifecycleTests : IAsyncLifetime
{
    private const string Crd = """
        {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"things.temp.vk.dev"},
         "spec":{"group":"temp.vk.dev","scope":"Namespaced","names":{"plural":"things","kind":"Thing"},
          "versions":[
            {"name":"v1beta1","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}},
            {"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}
        """;

    private LocalApiServer _server = null!;
    private Kubernetes _client = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await LocalApiServer.StartAsync(cancellationToken: Token);
        _client = new Kubernetes(_server.CreateClientConfiguration());
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_CRD_is_served_at_once_in_every_version_and_its_removal_deletes_its_objects_then_unregisters_it()
    {
        Assert.Equal(HttpStatusCode.Created, await SendAsync(HttpMethod.Post, "apis/apiextensions.k8s.io/v1/customresourcedefinitions", Crd));
        var group = await _client.HttpClient.GetStringAsync(new Uri(_client.BaseUri, "apis/temp.vk.dev"), Token);
        Assert.Contains("\"preferredVersion\":{\"groupVersion\":\"temp.vk.dev/v1\"", group, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, await SendAsync(HttpMethod.Post, "apis/temp.vk.dev/v1/namespaces/default/things", """{"apiVersion":"temp.vk.dev/v1","kind":"Thing","metadata":{"name":"t1"},"data":{"x":1}}"""));
        var viaBeta = await _client.HttpClient.GetStringAsync(new Uri(_client.BaseUri, "apis/temp.vk.dev/v1beta1/namespaces/default/things/t1"), Token);
        Assert.Contains("\"apiVersion\":\"temp.vk.dev/v1beta1\"", viaBeta, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Delete, "apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.temp.vk.dev", null));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await SendAsync(HttpMethod.Get, "apis/temp.vk.dev/v1", null) != HttpStatusCode.NotFound)
        {
            Assert.True(DateTime.UtcNow < deadline, "the CRD's group/version was still served 10s after deletion");
            await Task.Delay(50, Token);
        }

        Assert.Equal(HttpStatusCode.NotFound, await SendAsync(HttpMethod.Get, "apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.temp.vk.dev", null));
    }

    [Fact]
    public async Task An_invalid_CRD_is_refused_with_422()
    {
        var invalid = Crd.Replace("things.temp.vk.dev", "wrong-name.temp.vk.dev", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, await SendAsync(HttpMethod.Post, "apis/apiextensions.k8s.io/v1/customresourcedefinitions", invalid));
    }

    private async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, string? body)
    {
        using var request = new HttpRequestMessage(method, new Uri(_client.BaseUri, path));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await _client.HttpClient.SendAsync(request, Token);
        return response.StatusCode;
    }
}
