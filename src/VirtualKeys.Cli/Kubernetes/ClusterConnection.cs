using k8s;

namespace VirtualKeys.Cli.Kubernetes;

/// <summary>A Kubernetes client and the namespace a command works in.</summary>
internal sealed class ClusterConnection : IDisposable
{
    public ClusterConnection(KubernetesClientConfiguration configuration, string? ns)
    {
        Client = new k8s.Kubernetes(configuration);
        Namespace = string.IsNullOrEmpty(ns) ? "default" : ns;
        VirtualKeys = new VirtualKeyApi(Client);
    }

    public IKubernetes Client { get; }

    public string Namespace { get; }

    public VirtualKeyApi VirtualKeys { get; }

    public void Dispose() => Client.Dispose();
}
