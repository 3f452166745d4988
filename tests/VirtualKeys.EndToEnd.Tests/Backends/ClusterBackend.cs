using k8s;

namespace VirtualKeys.EndToEnd.Tests.Backends;

/// <summary>
/// A Kubernetes API the end-to-end scenario runs against: the in-process local server always, a
/// real K3s where a Docker engine answers. <see cref="StartAsync"/> returns null (with the reason in
/// <see cref="UnavailableReason"/>) when the backend cannot run here; the test then skips.
/// </summary>
public abstract class ClusterBackend : IAsyncDisposable
{
    public abstract string Name { get; }

    /// <summary>Why the backend cannot run here, or null when it can.</summary>
    public string? UnavailableReason { get; protected set; }

    /// <summary>Starts the cluster, or sets <see cref="UnavailableReason"/> and returns null.</summary>
    public abstract Task<KubernetesClientConfiguration?> StartAsync(CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();
}
