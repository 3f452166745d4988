using System.Collections.Concurrent;
using k8s;
using k8s.Models;
using VirtualKeys.Operator.Runtime.Informers;

namespace VirtualKeys.Operator.Tests.Runtime.Support;

/// <summary>Passes through to a real list watcher, counting lists and recording the versions watches start from.</summary>
internal sealed class CountingListWatcher<T>(IListWatcher<T> inner) : IListWatcher<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly ConcurrentQueue<string> _watchVersions = new();
    private int _lists;

    public string Kind => inner.Kind;

    public int Lists => Volatile.Read(ref _lists);

    public IReadOnlyList<string> WatchVersions => [.. _watchVersions];

    public Task<ResourceList<T>> ListAsync(string? @namespace, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lists);
        return inner.ListAsync(@namespace, cancellationToken);
    }

    public IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(string? @namespace, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _watchVersions.Enqueue(resourceVersion);
        return inner.WatchAsync(@namespace, resourceVersion, timeout, cancellationToken);
    }
}
