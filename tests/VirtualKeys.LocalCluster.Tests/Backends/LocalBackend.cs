using k8s;

namespace VirtualKeys.LocalCluster.Tests.Backends;

public sealed class LocalBackend : ClusterBackend
{
    private LocalApiServer? _server;

    public override string Name => "local";

    public override LocalApiServer? Local => _server;

    protected override async Task<KubernetesClientConfiguration?> StartAsync()
    {
        _server = await LocalApiServer.StartAsync(
            new LocalApiServerOptions { BookmarkInterval = TimeSpan.FromMilliseconds(300) },
            TestContext.Current.CancellationToken);
        return _server.CreateClientConfiguration();
    }

    protected override async ValueTask StopAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
