using System.Text;
using k8s;
using Testcontainers.K3s;
using VirtualKeys.Testing.Docker;

namespace VirtualKeys.LocalCluster.Tests.Backends;

/// <summary>A real K3s cluster in Docker (Testcontainers.K3s); unavailable, and so skipped, without a Docker engine.</summary>
public sealed class K3sBackend : ClusterBackend
{
    private K3sContainer? _container;

    public override string Name => "k3s";

    protected override async Task<KubernetesClientConfiguration?> StartAsync()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        UnavailableReason = await DockerEngine.UnavailableReasonAsync(cancellationToken) is { } reason ? "No Docker engine: " + reason : null;
        if (UnavailableReason is not null)
        {
            UnavailableReason = "K3s conformance backend skipped: " + UnavailableReason;
            return null;
        }

        var image = Environment.GetEnvironmentVariable("VK_K3S_IMAGE") is { Length: > 0 } configured ? configured : "rancher/k3s:v1.33.1-k3s1";
        _container = new K3sBuilder(image).Build();
        await _container.StartAsync(cancellationToken);
        var kubeconfig = await _container.GetKubeconfigAsync();
        await using var stream = new MemoryStream(Encoding.UTF8.GetBytes(kubeconfig));
        return await KubernetesClientConfiguration.BuildConfigFromConfigFileAsync(stream);
    }

    protected override async ValueTask StopAsync()
    {
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }
}
