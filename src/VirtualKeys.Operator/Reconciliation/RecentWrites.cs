using System.Collections.Concurrent;
using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Reconciliation;

/// <summary>
/// The objects this process wrote whose watch event may not have reached the informer yet. While
/// the cache still holds the version a write replaced, the written object is used instead, so a
/// reconcile right after a write neither repeats it nor fails on 409 Conflict.
/// </summary>
/// <remarks>
/// A write is trusted over the cache for <see cref="TrustFor"/> at most. A watch delivers in well
/// under that; past it, the cache has relisted or the object changed without this process (deleted
/// while the watch was down, say), and a remembered object that no longer exists would be trusted
/// forever. Going back to the cache is always safe: at worst a write repeats and gets a 409.
/// </remarks>
public sealed class RecentWrites<T>(TimeProvider timeProvider)
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    public static readonly TimeSpan TrustFor = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<(string? Namespace, string Name), (string? Replaced, T Written, DateTimeOffset At)> _writes = new();

    public void Wrote(string? replacedResourceVersion, T written)
    {
        ArgumentNullException.ThrowIfNull(written);
        _writes[(written.Metadata.NamespaceProperty, written.Metadata.Name)] = (replacedResourceVersion, written, timeProvider.GetUtcNow());
    }

    /// <summary>The freshest known state of an object: <paramref name="cached"/>, unless it is older than a recent write of ours.</summary>
    public T? Freshest(string? @namespace, string name, T? cached)
    {
        if (!_writes.TryGetValue((@namespace, name), out var write))
        {
            return cached;
        }

        var cachedVersion = cached?.Metadata.ResourceVersion;
        var cacheIsBehind = (cached is null && write.Replaced is null) || (cached is not null && cachedVersion == write.Replaced);
        if (cacheIsBehind && timeProvider.GetUtcNow() - write.At < TrustFor)
        {
            return write.Written;
        }

        // The cache has caught up with (or moved past) the write, or the write is too old to trust.
        _writes.TryRemove(KeyValuePair.Create((@namespace, name), write));
        return cached;
    }

    public void Forget(string? @namespace, string name) => _writes.TryRemove((@namespace, name), out _);
}
