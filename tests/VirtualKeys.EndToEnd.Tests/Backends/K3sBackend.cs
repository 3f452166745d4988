using System.Text;
using k8s;
using Testcontainers.K3s;
using VirtualKeys.Testing.Docker;

namespace VirtualKeys.EndToEnd.Tests.Backends;

/// <summary>
/// A real K3s cluster in Docker (Testcontainers.K3s); unavailable, and so skipped, without a Docker
/// engine. The image is <c>VK_K3S_IMAGE</c> when set.
/// </summary>
public sealed class K3sBackend : ClusterBackend
{
    private const string DefaultImage = "rancher/k3s:v1.33.1-k3s1";

    private K3sContainer? _container;

    public override string Name => "k3s";

    public override async Task<KubernetesClientConfiguration?> StartAsync(CancellationToken cancellationToken)
    {
        if (await DockerEngine.UnavailableReasonAsync(cancellationToken) is { } reason)
        {
            UnavailableReason = "No Docker engine: " + reason;
            return null;
        }

        var image = Environment.GetEnvironmentVariable("VK_K3S_IMAGE") is { Length: > 0 } configured ? configured : DefaultImage;
        _container = new K3sBuilder(image).Build();
        await _container.StartAsync(cancellationToken);
        var kubeconfig = await _container.GetKubeconfigAsync();
        await using var stream = new MemoryStream(Encoding.UTF8.GetBytes(kubeconfig));
        return KubernetesClientConfiguration.BuildConfigFromConfigFile(stream);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }
}
