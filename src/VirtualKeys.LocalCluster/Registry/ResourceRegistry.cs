using System.Collections.Frozen;

namespace VirtualKeys.LocalCluster.Registry;

/// <summary>
/// Every resource the server serves: the built-in kinds plus whatever installed CRDs declare.
/// Readers get an immutable snapshot, so discovery and routing never lock.
/// </summary>
internal sealed class ResourceRegistry
{
    private readonly Lock _lock = new();
    private readonly List<ResourceType> _builtIns;
    private readonly Dictionary<string, IReadOnlyList<ResourceType>> _crds = new(StringComparer.Ordinal);
    private Snapshot _snapshot;

    public ResourceRegistry(IEnumerable<ResourceType> builtIns)
    {
        _builtIns = builtIns.ToList();
        _snapshot = Build(0);
    }

    /// <summary>Bumps whenever the set of served resources changes (OpenAPI hashes follow it).</summary>
    public long Revision => _snapshot.Revision;

    public IReadOnlyList<ResourceType> All => _snapshot.All;

    /// <summary>Groups in discovery order, each with its versions highest priority first.</summary>
    public IReadOnlyList<(string Group, IReadOnlyList<string> Versions)> Groups => _snapshot.Groups;

    public ResourceType? Find(string group, string version, string plural) =>
        _snapshot.ByPath.GetValueOrDefault($"{group}/{version}/{plural}");

    public IReadOnlyList<ResourceType> InGroupVersion(string group, string version) =>
        _snapshot.ByGroupVersion.GetValueOrDefault($"{group}/{version}") ?? [];

    /// <summary>The type that serves a storage bucket at its storage version (used for GC and events).</summary>
    public ResourceType? ForStorage(string storageKey) => _snapshot.ByStorage.GetValueOrDefault(storageKey);

    public void RegisterCrd(string crdName, IReadOnlyList<ResourceType> types)
    {
        lock (_lock)
        {
            _crds[crdName] = types;
            _snapshot = Build(_snapshot.Revision + 1);
        }
    }

    public void UnregisterCrd(string crdName)
    {
        lock (_lock)
        {
            if (_crds.Remove(crdName))
            {
                _snapshot = Build(_snapshot.Revision + 1);
            }
        }
    }

    private Snapshot Build(long revision)
    {
        var all = _builtIns.Concat(_crds.Values.SelectMany(t => t)).ToList();
        var byPath = all.ToFrozenDictionary(t => $"{t.Group}/{t.Version}/{t.Plural}", StringComparer.Ordinal);
        var byGv = all.GroupBy(t => $"{t.Group}/{t.Version}")
            .ToFrozenDictionary(g => g.Key, g => (IReadOnlyList<ResourceType>)g.ToList(), StringComparer.Ordinal);
        var byStorage = all.Where(t => t.ServesStorageForm)
            .GroupBy(t => t.StorageKey)
            .ToFrozenDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var builtInGroups = _builtIns.Select(t => t.Group).Distinct().ToList();
        var groups = all.GroupBy(t => t.Group)
            .OrderBy(g => builtInGroups.IndexOf(g.Key) is var i && i >= 0 ? i : int.MaxValue)
            .ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, (IReadOnlyList<string>)g.Select(t => t.Version).Distinct().Order(KubeVersionComparer.Instance).ToList()))
            .ToList();
        return new Snapshot(revision, all, byPath, byGv, byStorage, groups);
    }

    private sealed record Snapshot(
        long Revision,
        IReadOnlyList<ResourceType> All,
        FrozenDictionary<string, ResourceType> ByPath,
        FrozenDictionary<string, IReadOnlyList<ResourceType>> ByGroupVersion,
        FrozenDictionary<string, ResourceType> ByStorage,
        IReadOnlyList<(string Group, IReadOnlyList<string> Versions)> Groups);
}
