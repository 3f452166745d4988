using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Runtime.Controllers;

/// <summary>
/// What a reconcile is asked to look at: only a namespace and a name. The reconciler reads the
/// object's current state from the cache, so requests for one key collapse into one reconcile.
/// </summary>
public readonly record struct ReconcileRequest
{
    public ReconcileRequest(string? @namespace, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Namespace = string.IsNullOrEmpty(@namespace) ? null : @namespace;
        Name = name;
    }

    /// <summary>Null for a cluster-scoped object.</summary>
    public string? Namespace { get; }

    public string Name { get; }

    public static ReconcileRequest For(IKubernetesObject<V1ObjectMeta> obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return new ReconcileRequest(obj.Metadata?.NamespaceProperty, obj.Metadata?.Name!);
    }

    public override string ToString() => Namespace is null ? Name : $"{Namespace}/{Name}";
}
