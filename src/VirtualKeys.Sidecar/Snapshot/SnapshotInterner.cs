using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using VirtualKeys.Sidecar.Proxy;

namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// Shares what is identical across keys: strings (namespaces, model and provider names, base URLs,
/// credentials), prepared providers and their ordered lists, model sets, alias maps, limits and budgets.
/// Thousands of keys made from a handful of provider Secrets and templates then cost one prepared
/// provider each instead of one per key.
/// </summary>
/// <remarks>
/// Everything shared is immutable (a <see cref="ServingProvider"/>'s Azure caches are per model, not per
/// key), so sharing changes no behaviour. The interner only grows; <see cref="KeySnapshotStore"/>
/// replaces it at every reload and when it has outgrown what the last load needed (<see cref="HasOutgrownLoad"/>), so the
/// credentials of removed keys do not stay reachable from here for long.
/// </remarks>
internal sealed class SnapshotInterner
{
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<ProviderEntry, ProviderEntry> _providerEntries = new(ProviderEntryComparer.Instance);
    private readonly Dictionary<ProviderEntry, ServingProvider> _providers = new(ProviderEntryComparer.Instance);
    private readonly Dictionary<ServingProvider[], ServingProvider[]> _providerLists = new(ReferenceSequenceComparer<ServingProvider>.Instance);
    private readonly Dictionary<ProviderEntry[], ProviderEntry[]> _providerEntryLists = new(ReferenceSequenceComparer<ProviderEntry>.Instance);
    private readonly Dictionary<string[], string[]> _stringLists = new(StringSequenceComparer.Instance);
    private readonly Dictionary<string[], FrozenSet<string>> _modelSets = new(ReferenceSequenceComparer<string>.Instance);
    private readonly Dictionary<string[], FrozenDictionary<string, string>> _aliasMaps = new(ReferenceSequenceComparer<string>.Instance);
    private readonly Dictionary<(string BaseUrl, ProviderType Type), Uri?[]> _routeUris = [];
    private readonly Dictionary<KeyLimits, KeyLimits> _limits = [];
    private readonly Dictionary<KeyBudget, KeyBudget> _budgets = [];

    private int _countAtLoad;

    /// <summary>How many distinct things are held.</summary>
    public int Count =>
        _strings.Count + _providerEntries.Count + _providers.Count + _providerLists.Count + _providerEntryLists.Count + _stringLists.Count
        + _modelSets.Count + _aliasMaps.Count + _routeUris.Count + _limits.Count + _budgets.Count;

    /// <summary>
    /// True once it holds more than twice what it held at <see cref="MarkLoaded"/> (plus a little): changed
    /// keys only add to it, so by then most of it is what replaced keys used, and it should be started afresh.
    /// </summary>
    public bool HasOutgrownLoad => Count > (2 * _countAtLoad) + 256;

    /// <summary>Records what a full load needed, the measure of <see cref="HasOutgrownLoad"/>.</summary>
    public void MarkLoaded() => _countAtLoad = Count;

    public string String(string value)
    {
        if (value.Length == 0)
        {
            return string.Empty;
        }

        if (_strings.TryGetValue(value, out var shared))
        {
            return shared;
        }

        _strings.Add(value, value);
        return value;
    }

    public string? OptionalString(string? value) => value is null ? null : String(value);

    /// <summary>The same strings in the same order as an array shared with every list equal to it.</summary>
    public string[] StringList(IReadOnlyList<string> values)
    {
        if (values.Count == 0)
        {
            return [];
        }

        var list = new string[values.Count];
        for (var i = 0; i < list.Length; i++)
        {
            list[i] = String(values[i]);
        }

        if (_stringLists.TryGetValue(list, out var shared))
        {
            return shared;
        }

        _stringLists.Add(list, list);
        return list;
    }

    /// <summary>Null for an empty list (every model allowed).</summary>
    public FrozenSet<string>? ModelSet(IReadOnlyList<string> models)
    {
        if (models.Count == 0)
        {
            return null;
        }

        var list = StringList(models);
        if (!_modelSets.TryGetValue(list, out var set))
        {
            set = list.ToFrozenSet(StringComparer.Ordinal);
            _modelSets.Add(list, set);
        }

        return set;
    }

    public FrozenDictionary<string, string> AliasMap(IReadOnlyDictionary<string, string> aliases)
    {
        if (aliases.Count == 0)
        {
            return FrozenDictionary<string, string>.Empty;
        }

        // Alias, target, alias, target, ... in alias order: equal maps give equal lists.
        var flat = new string[aliases.Count * 2];
        var next = 0;
        foreach (var (alias, target) in aliases.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            flat[next++] = alias;
            flat[next++] = target;
        }

        var list = StringList(flat);
        if (!_aliasMaps.TryGetValue(list, out var map))
        {
            map = aliases.ToFrozenDictionary(pair => String(pair.Key), pair => String(pair.Value), StringComparer.Ordinal);
            _aliasMaps.Add(list, map);
        }

        return map;
    }

    /// <summary>Shared by every provider on the same base URL: the array is never written after this.</summary>
    public Uri?[] RouteUris(string baseUrl, ProviderType type)
    {
        if (!_routeUris.TryGetValue((baseUrl, type), out var uris))
        {
            uris = ServingProvider.CreateRouteUris(baseUrl, type);
            _routeUris.Add((baseUrl, type), uris);
        }

        return uris;
    }

    public KeyLimits Limits(KeyLimits limits)
    {
        if (limits == KeyLimits.None)
        {
            return KeyLimits.None;
        }

        if (_limits.TryGetValue(limits, out var shared))
        {
            return shared;
        }

        _limits.Add(limits, limits);
        return limits;
    }

    public KeyBudget? Budget(KeyBudget? budget)
    {
        if (budget is null)
        {
            return null;
        }

        if (_budgets.TryGetValue(budget, out var shared))
        {
            return shared;
        }

        _budgets.Add(budget, budget);
        return budget;
    }

    /// <summary>The one instance of every provider entry equal to <paramref name="entry"/>, its strings shared.</summary>
    public ProviderEntry Entry(ProviderEntry entry)
    {
        if (_providerEntries.TryGetValue(entry, out var shared))
        {
            return shared;
        }

        shared = new ProviderEntry
        {
            Name = String(entry.Name),
            Type = entry.Type,
            BaseUrl = OptionalString(entry.BaseUrl),
            Credential = String(entry.Credential),
            Models = StringList(entry.Models),
            Priority = entry.Priority,
            Weight = entry.Weight,
            AzureApiVersion = OptionalString(entry.AzureApiVersion),
        };
        _providerEntries.Add(shared, shared);
        return shared;
    }

    /// <summary>
    /// The prepared provider for an entry equal to <paramref name="entry"/>, created once; null (with the
    /// reason) when it cannot be served.
    /// </summary>
    public ServingProvider? Prepared(ProviderEntry entry, out string? problem)
    {
        if (_providers.TryGetValue(entry, out var provider))
        {
            problem = null;
            return provider;
        }

        provider = ServingProvider.TryCreate(entry, this, out problem);
        if (provider is not null)
        {
            _providers.Add(entry, provider);
        }

        return provider;
    }

    public ServingProvider[] ProviderList(ServingProvider[] providers)
    {
        if (providers.Length == 0)
        {
            return [];
        }

        if (_providerLists.TryGetValue(providers, out var shared))
        {
            return shared;
        }

        _providerLists.Add(providers, providers);
        return providers;
    }

    public ProviderEntry[] ProviderEntryList(ProviderEntry[] entries)
    {
        if (entries.Length == 0)
        {
            return [];
        }

        if (_providerEntryLists.TryGetValue(entries, out var shared))
        {
            return shared;
        }

        _providerEntryLists.Add(entries, entries);
        return entries;
    }

    /// <summary>Equal when every field is, the credential included: two Secrets holding the same key are one provider.</summary>
    private sealed class ProviderEntryComparer : IEqualityComparer<ProviderEntry>
    {
        public static readonly ProviderEntryComparer Instance = new();

        public bool Equals(ProviderEntry? x, ProviderEntry? y) =>
            ReferenceEquals(x, y)
            || (x is not null && y is not null
                && x.Type == y.Type
                && x.Priority == y.Priority
                && x.Weight == y.Weight
                && string.Equals(x.Name, y.Name, StringComparison.Ordinal)
                && string.Equals(x.BaseUrl, y.BaseUrl, StringComparison.Ordinal)
                && string.Equals(x.Credential, y.Credential, StringComparison.Ordinal)
                && string.Equals(x.AzureApiVersion, y.AzureApiVersion, StringComparison.Ordinal)
                && x.Models.SequenceEqual(y.Models, StringComparer.Ordinal));

        public int GetHashCode(ProviderEntry obj) =>
            HashCode.Combine(obj.Name, obj.Type, obj.BaseUrl, obj.Credential, obj.Priority, obj.Weight, obj.Models.Count);
    }

    /// <summary>Element-wise ordinal string equality.</summary>
    private sealed class StringSequenceComparer : IEqualityComparer<string[]>
    {
        public static readonly StringSequenceComparer Instance = new();

        public bool Equals(string[]? x, string[]? y) =>
            ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

        public int GetHashCode(string[] obj)
        {
            var hash = default(HashCode);
            foreach (var item in obj)
            {
                hash.Add(item, StringComparer.Ordinal);
            }

            return hash.ToHashCode();
        }
    }

    /// <summary>Element-wise reference equality, for lists of things already shared.</summary>
    private sealed class ReferenceSequenceComparer<T> : IEqualityComparer<T[]>
        where T : class
    {
        public static readonly ReferenceSequenceComparer<T> Instance = new();

        public bool Equals(T[]? x, T[]? y)
        {
            if (ReferenceEquals(x, y))
            {
                return true;
            }

            if (x is null || y is null || x.Length != y.Length)
            {
                return false;
            }

            for (var i = 0; i < x.Length; i++)
            {
                if (!ReferenceEquals(x[i], y[i]))
                {
                    return false;
                }
            }

            return true;
        }

        public int GetHashCode(T[] obj)
        {
            var hash = default(HashCode);
            foreach (var item in obj)
            {
                hash.Add(RuntimeHelpers.GetHashCode(item));
            }

            return hash.ToHashCode();
        }
    }
}
