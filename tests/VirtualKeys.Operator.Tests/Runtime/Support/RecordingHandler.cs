using System.Collections.Concurrent;
using k8s.Models;
using VirtualKeys.Operator.Runtime.Informers;

namespace VirtualKeys.Operator.Tests.Runtime.Support;

/// <summary>Records what an informer delivers as "added ns/name@rv", "updated ns/name@rv->rv", "deleted ns/name@rv".</summary>
internal sealed class RecordingHandler<T> : IResourceEventHandler<T>
    where T : class, k8s.IKubernetesObject<V1ObjectMeta>
{
    private readonly ConcurrentQueue<string> _events = new();

    public IReadOnlyList<string> Events => [.. _events];

    /// <summary>The events without resource versions, e.g. "updated ns/name".</summary>
    public IReadOnlyList<string> Changes => [.. _events.Select(e => e[..e.IndexOf('@', StringComparison.Ordinal)])];

    public int ResyncCount { get; private set; }

    public Task WaitForAsync(string change) =>
        Wait.UntilAsync(() => Changes.Contains(change), () => $"'{change}' (have: {string.Join(", ", _events)})");

    public void OnAdded(T obj) => _events.Enqueue($"added {Id(obj)}@{obj.Metadata.ResourceVersion}");

    public void OnUpdated(T oldObj, T newObj)
    {
        if (ReferenceEquals(oldObj, newObj))
        {
            ResyncCount++;
        }

        _events.Enqueue($"updated {Id(newObj)}@{oldObj.Metadata.ResourceVersion}->{newObj.Metadata.ResourceVersion}");
    }

    public void OnDeleted(T obj) => _events.Enqueue($"deleted {Id(obj)}@{obj.Metadata.ResourceVersion}");

    public Task WaitForCountAsync(int count) => Wait.UntilAsync(() => _events.Count >= count, () => $"{count} events (have: {string.Join(", ", _events)})");

    private static string Id(T obj) => $"{obj.Metadata.NamespaceProperty}/{obj.Metadata.Name}";
}
