using k8s;
using VirtualKeys.LocalCluster;

namespace VirtualKeys.EndToEnd.Tests.Backends;

/// <summary>The in-process local API server (VirtualKeys.LocalCluster): always available.</summary>
public sealed class LocalBackend : ClusterBackend
{
    private LocalApiServer? _server;

    public override string Name => "local";

    public override async Task<KubernetesClientConfiguration?> StartAsync(CancellationToken cancellationToken)
    {
        _server = await LocalApiServer.StartAsync(new LocalApiServerOptions(), cancellationToken);
        return _server.CreateClientConfiguration();
    }

    public override async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
