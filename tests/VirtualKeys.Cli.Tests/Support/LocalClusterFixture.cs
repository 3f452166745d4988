using k8s;
using k8s.Models;
using VirtualKeys.Cli.Kubernetes;
using VirtualKeys.LocalCluster;

namespace VirtualKeys.Cli.Tests.Support;

/// <summary>
/// One in-process API server with the VirtualKey CRD for a test class, and a kubeconfig for it.
/// Tests share it, so each works in a namespace of its own (<see cref="CreateNamespaceAsync"/>).
/// </summary>
public sealed class LocalClusterFixture : IAsyncLifetime
{
    private readonly TemporaryDirectory _folder = new();
    private LocalApiServer? _server;
    private k8s.Kubernetes? _client;
    private int _namespaces;

    public string Kubeconfig => Path.Combine(_folder.Path, "kubeconfig");

    public string Folder => _folder.Path;

    public IKubernetes Client => _client ?? throw new InvalidOperationException("The fixture is not initialized.");

    public async ValueTask InitializeAsync()
    {
        _server = await LocalApiServer.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        _server.WriteKubeconfig(Kubeconfig);
        _client = new k8s.Kubernetes(_server.CreateClientConfiguration());
        await CrdInstaller.InstallAsync(_client, TestContext.Current.CancellationToken);
        await CrdInstaller.WaitUntilServedAsync(_client, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    /// <summary>A new namespace named after <paramref name="hint"/>.</summary>
    public async Task<string> CreateNamespaceAsync(string hint)
    {
        var name = $"{hint}-{Interlocked.Increment(ref _namespaces)}";
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name } }, cancellationToken: TestContext.Current.CancellationToken);
        return name;
    }

    public async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _folder.Dispose();
    }
}
