using System.Runtime.CompilerServices;
using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Runtime.Informers;

/// <summary>
/// Passes every listed and watched object through a transform before the informer sees it, so the
/// cache holds only what the transform keeps (as client-go's informer transforms do): fields nobody
/// reads cost memory for every object of the kind, for as long as the process runs.
/// </summary>
public sealed class TransformingListWatcher<T>(IListWatcher<T> inner, Func<T, T> transform) : IListWatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IListWatcher<T> _inner = inner ?? throw new ArgumentNullException(nameof(inner));
    private readonly Func<T, T> _transform = transform ?? throw new ArgumentNullException(nameof(transform));

    public string Kind => _inner.Kind;

    public async Task<ResourceList<T>> ListAsync(string? @namespace, CancellationToken cancellationToken)
    {
        var list = await _inner.ListAsync(@namespace, cancellationToken);
        return new ResourceList<T>([.. list.Items.Select(_transform)], list.ResourceVersion);
    }

    public IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(
        string? @namespace,
        string resourceVersion,
        TimeSpan timeout,
        CancellationToken cancellationToken) =>
        Transformed(_inner.WatchAsync(@namespace, resourceVersion, timeout, cancellationToken), cancellationToken);

    private async IAsyncEnumerable<(WatchEventType Type, T Object)> Transformed(
        IAsyncEnumerable<(WatchEventType Type, T Object)> events,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (type, obj) in events.WithCancellation(cancellationToken))
        {
            // Bookmarks carry only a resource version; nothing in them to trim.
            yield return (type, type == WatchEventType.Bookmark ? obj : _transform(obj));
        }
    }
}
