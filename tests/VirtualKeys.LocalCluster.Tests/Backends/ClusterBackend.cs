using k8s;

namespace VirtualKeys.LocalCluster.Tests.Backends;

/// <summary>
/// A Kubernetes API to run the conformance suite against: the local server always, a real
/// K3s where a Docker engine answers. Tests call <see cref="RequireAvailable"/> first, so an
/// absent backend reports them as skipped, never as passed.
/// </summary>
public abstract class ClusterBackend : IAsyncLifetime
{
    private Kubernetes? _client;

    public abstract string Name { get; }

    /// <summary>Why the backend cannot run here, or null when it can.</summary>
    public string? UnavailableReason { get; protected set; }

    public Kubernetes Client => _client ?? throw new InvalidOperationException($"{Name} backend is not available: {UnavailableReason}");

    /// <summary>The local server when this backend is one (fault injection), otherwise null.</summary>
    public virtual LocalApiServer? Local => null;

    public void RequireAvailable()
    {
        if (UnavailableReason is { } reason)
        {
            Assert.Skip(reason);
        }
    }

    public async ValueTask InitializeAsync()
    {
        var configuration = await StartAsync();
        if (configuration is not null)
        {
            _client = new Kubernetes(configuration);
            await TestCrds.InstallAsync(_client, TestContext.Current.CancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        await StopAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Starts the cluster, or sets <see cref="UnavailableReason"/> and returns null.</summary>
    protected abstract Task<KubernetesClientConfiguration?> StartAsync();

    protected abstract ValueTask StopAsync();
}
