using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>
/// How to list and watch one kind: the only kind-specific part of an informer. Built-in kinds go
/// through their typed <c>CoreV1</c> calls, custom resources through <c>CustomObjects</c>; see
/// <see cref="ListWatchers"/>.
/// </summary>
public interface IListWatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    /// <summary>Names the kind in logs, e.g. <c>secrets</c> or <c>virtualkeys.aigateway.dev</c>.</summary>
    string Kind { get; }

    /// <summary>Lists every object in <paramref name="namespace"/>, or in all namespaces when null.</summary>
    Task<ResourceList<T>> ListAsync(string? @namespace, CancellationToken cancellationToken);

    /// <summary>
    /// Watches from <paramref name="resourceVersion"/> with bookmarks on. The stream ends when the
    /// server closes it; an ERROR event is thrown as a <see cref="KubernetesException"/> carrying
    /// its status (410 Gone among them), a failed request as its HTTP exception.
    /// </summary>
    IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(
        string? @namespace,
        string resourceVersion,
        TimeSpan timeout,
        CancellationToken cancellationToken);
}
