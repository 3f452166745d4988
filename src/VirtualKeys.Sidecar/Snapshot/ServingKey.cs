using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Sidecar.Resolve;

namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>A key prepared for the request path; rebuilt whenever its registry row changes.</summary>
internal sealed class ServingKey
{
    private readonly FrozenSet<string>? _allowed;
    private readonly FrozenDictionary<string, string> _aliases;
    private readonly TokenHash[] _hashes;
    private string? _displayName;
    private KeyInfo? _info;

    /// <param name="providers">In declared order.</param>
    /// <param name="interner">Shares the ordered providers, model set and alias map with equal keys; null to share nothing.</param>
    public ServingKey(VirtualKeyEntry entry, ServingProvider[] providers, SnapshotInterner? interner = null)
    {
        Entry = entry;
        _allowed = interner is not null ? interner.ModelSet(entry.AllowedModels)
            : entry.AllowedModels.Count == 0 ? null
            : entry.AllowedModels.ToFrozenSet(StringComparer.Ordinal);
        _aliases = entry.ModelAliases is FrozenDictionary<string, string> frozen && frozen.Comparer == StringComparer.Ordinal ? frozen
            : interner is not null ? interner.AliasMap(entry.ModelAliases)
            : entry.ModelAliases.ToFrozenDictionary(StringComparer.Ordinal);
        _hashes = entry.TokenHashes as TokenHash[] ?? [.. entry.TokenHashes];
        // Stable sort: providers keep their declared order inside a tier.
        ServingProvider[] ordered = [.. providers.OrderBy(p => p.Priority)];
        Providers = interner?.ProviderList(ordered) ?? ordered;
        OneProviderPerTier = OnePerTier(Providers);
    }

    public VirtualKeyEntry Entry { get; }

    public string KeyId => Entry.KeyId;

    /// <summary><c>namespace/name</c>: what people call the key in logs and metrics. Built on first use.</summary>
    public string DisplayName => _displayName ??= Entry.Namespace + "/" + Entry.Name;

    /// <summary>The key as a resolve answer names it. Built on first use.</summary>
    public KeyInfo Info => _info ??= new KeyInfo { Namespace = Entry.Namespace, Name = Entry.Name, Id = Entry.KeyId };

    /// <summary>Ordered by priority tier; shared with other keys: never modify.</summary>
    public ServingProvider[] Providers { get; }

    public bool OneProviderPerTier { get; }

    /// <summary>Same rules as the registry's <see cref="TokenVerifier"/>, without allocating.</summary>
    public TokenCheck Check(ReadOnlySpan<char> token, DateTimeOffset now)
    {
        Span<byte> utf8 = stackalloc byte[TokenParser.MaxTokenLength];
        var length = Encoding.UTF8.GetBytes(token, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);

        var matched = false;
        DateTimeOffset? matchedNotAfter = null;
        foreach (var stored in _hashes)
        {
            // Every stored hash is compared so the time taken does not depend on which one matched.
            if (CryptographicOperations.FixedTimeEquals(stored.Sha256.Span, hash))
            {
                matched = true;
                matchedNotAfter = stored.NotAfter;
            }
        }

        return !matched ? TokenCheck.Unknown
            : matchedNotAfter is { } until && until <= now ? TokenCheck.Retired
            : TokenCheck.Accepted;
    }

    public string ResolveAlias(string model) => _aliases.TryGetValue(model, out var target) ? target : model;

    public bool Allows(string model) => _allowed is null || _allowed.Contains(model);

    /// <summary>Whether the key's own configuration names the model (so it is safe as a metric label).</summary>
    public bool MentionsModel(string model)
    {
        if ((_allowed is not null && _allowed.Contains(model))
            || string.Equals(model, Entry.DefaultModel, StringComparison.Ordinal))
        {
            return true;
        }

        foreach (var target in _aliases.Values)
        {
            if (string.Equals(model, target, StringComparison.Ordinal))
            {
                return true;
            }
        }

        foreach (var provider in Providers)
        {
            if (provider.MentionsModel(model))
            {
                return true;
            }
        }

        return false;
    }

    public override string ToString() => DisplayName;

    private static bool OnePerTier(ServingProvider[] providers)
    {
        for (var i = 1; i < providers.Length; i++)
        {
            if (providers[i].Priority == providers[i - 1].Priority)
            {
                return false;
            }
        }

        return true;
    }
}
