using k8s;
using k8s.Models;
using VirtualKeys.Operator.Runtime.Controllers;

namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>
/// Read access to an informer's cache: the latest object seen of each namespace/name. Reconcilers
/// read the object they are asked about from here rather than from the API server. Objects are
/// shared: treat them as read-only (copy before changing one).
/// </summary>
public interface IResourceCache<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    bool HasSynced { get; }

    int Count { get; }

    /// <summary>Null when no such object is cached; <paramref name="namespace"/> null for cluster-scoped kinds.</summary>
    T? Get(string? @namespace, string name);

    T? Get(ReconcileRequest request);

    IReadOnlyList<T> List();

    IReadOnlyList<T> List(string? @namespace);
}
