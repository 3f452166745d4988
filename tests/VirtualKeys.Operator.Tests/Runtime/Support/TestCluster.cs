using k8s;
using k8s.Models;
using VirtualKeys.LocalCluster;

namespace VirtualKeys.Operator.Tests.Runtime.Support;

/// <summary>A real API server (the in-process local cluster) on a free port, and a client for it.</summary>
internal sealed class TestCluster : IAsyncDisposable
{
    private TestCluster(LocalApiServer server)
    {
        Server = server;
        Client = new Kubernetes(server.CreateClientConfiguration());
    }

    public LocalApiServer Server { get; }

    public IKubernetes Client { get; }

    public static async Task<TestCluster> StartAsync() =>
        new(await LocalApiServer.StartAsync(new LocalApiServerOptions(), TestContext.Current.CancellationToken));

    public async Task CreateNamespaceAsync(string name) =>
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name } }, cancellationToken: TestContext.Current.CancellationToken);

    public Task<V1Secret> CreateSecretAsync(string ns, string name, string value = "v1") =>
        Client.CoreV1.CreateNamespacedSecretAsync(
            new V1Secret { Metadata = new V1ObjectMeta { Name = name }, StringData = new Dictionary<string, string> { ["key"] = value } },
            ns,
            cancellationToken: TestContext.Current.CancellationToken);

    public async Task<V1Secret> UpdateSecretAsync(string ns, string name, string value)
    {
        var secret = await Client.CoreV1.ReadNamespacedSecretAsync(name, ns, cancellationToken: TestContext.Current.CancellationToken);
        secret.StringData = new Dictionary<string, string> { ["key"] = value };
        return await Client.CoreV1.ReplaceNamespacedSecretAsync(secret, name, ns, cancellationToken: TestContext.Current.CancellationToken);
    }

    public Task DeleteSecretAsync(string ns, string name) =>
        Client.CoreV1.DeleteNamespacedSecretAsync(name, ns, cancellationToken: TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}
