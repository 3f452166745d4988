using k8s;
using k8s.Models;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;

namespace VirtualKeys.Operator.Tests.Support;

/// <summary>A cache whose contents the test sets, for driving a component without informers.</summary>
internal sealed class ListCache<T> : IResourceCache<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private volatile IReadOnlyList<T> _items = [];

    public bool HasSynced => true;

    public int Count => _items.Count;

    public void Set(IEnumerable<T> items) => _items = [.. items];

    public T? Get(string? @namespace, string name) =>
        _items.FirstOrDefault(i => i.Metadata.NamespaceProperty == @namespace && i.Metadata.Name == name);

    public T? Get(ReconcileRequest request) => Get(request.Namespace, request.Name);

    public IReadOnlyList<T> List() => _items;

    public IReadOnlyList<T> List(string? @namespace) => [.. _items.Where(i => i.Metadata.NamespaceProperty == @namespace)];
}
