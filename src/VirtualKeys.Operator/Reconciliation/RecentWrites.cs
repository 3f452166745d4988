using System.Collections.Concurrent;
using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Reconciliation;

/// <summary>
/// The objects this process wrote whose watch event may not have reached the informer yet. While
/// the cache still holds the version a write replaced, the written object is used instead, so a
/// reconcile right after a write neither repeats it nor fails on 409 Conflict.
/// </summary>
public sealed class RecentWrites<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly ConcurrentDictionary<(string? Namespace, string Name), (string? Replaced, T Written)> _writes = new();

    public void Wrote(string? replacedResourceVersion, T written)
    {
        ArgumentNullException.ThrowIfNull(written);
        _writes[(written.Metadata.NamespaceProperty, written.Metadata.Name)] = (replacedResourceVersion, written);
    }

    /// <summary>The freshest known state of an object: <paramref name="cached"/>, unless it is older than a write of ours.</summary>
    public T? Freshest(string? @namespace, string name, T? cached)
    {
        if (!_writes.TryGetValue((@namespace, name), out var write))
        {
            return cached;
        }

        var cachedVersion = cached?.Metadata.ResourceVersion;
        if ((cached is null && write.Replaced is null) || (cached is not null && cachedVersion == write.Replaced))
        {
            return write.Written;
        }

        // The cache has caught up with (or moved past) the write.
        _writes.TryRemove(KeyValuePair.Create((@namespace, name), write));
        return cached;
    }

    public void Forget(string? @namespace, string name) => _writes.TryRemove((@namespace, name), out _);
}
