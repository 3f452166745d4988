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
    private readonly FrozenSet<string> _aliasTargets;
    private readonly (byte[] Hash, DateTimeOffset? NotAfter)[] _hashes;

    public ServingKey(VirtualKeyEntry entry, ServingProvider[] providers)
    {
        Entry = entry;
        DisplayName = entry.Namespace + "/" + entry.Name;
        Info = new KeyInfo { Namespace = entry.Namespace, Name = entry.Name, Id = entry.KeyId };
        _allowed = entry.AllowedModels.Count == 0 ? null : entry.AllowedModels.ToFrozenSet(StringComparer.Ordinal);
        _aliases = entry.ModelAliases.ToFrozenDictionary(StringComparer.Ordinal);
        _aliasTargets = entry.ModelAliases.Values.ToFrozenSet(StringComparer.Ordinal);
        _hashes = [.. entry.TokenHashes.Select(h => (h.Sha256.ToArray(), h.NotAfter))];

        // Stable sort: providers keep their declared order inside a tier.
        Providers = [.. providers.OrderBy(p => p.Priority)];
        OneProviderPerTier = Providers.Select(p => p.Priority).Distinct().Count() == Providers.Length;
    }

    public VirtualKeyEntry Entry { get; }

    public string KeyId => Entry.KeyId;

    /// <summary><c>namespace/name</c>: what people call the key in logs and metrics.</summary>
    public string DisplayName { get; }

    public KeyInfo Info { get; }

    /// <summary>Ordered by priority tier.</summary>
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
        foreach (var (stored, notAfter) in _hashes)
        {
            // Every stored hash is compared so the time taken does not depend on which one matched.
            if (CryptographicOperations.FixedTimeEquals(stored, hash))
            {
                matched = true;
                matchedNotAfter = notAfter;
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
            || _aliasTargets.Contains(model)
            || string.Equals(model, Entry.DefaultModel, StringComparison.Ordinal))
        {
            return true;
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
}
