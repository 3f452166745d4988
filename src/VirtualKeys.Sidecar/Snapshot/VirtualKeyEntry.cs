namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// Everything the sidecar serves for one virtual key: the registry row with its credentials decrypted.
/// </summary>
public sealed class VirtualKeyEntry
{
    /// <summary>The public id embedded in the token (<c>vk_&lt;keyid&gt;_…</c>).</summary>
    public required string KeyId { get; init; }

    public required string Namespace { get; init; }

    public required string Name { get; init; }

    public KeyState State { get; init; } = KeyState.Active;

    public DateTimeOffset? ExpiresAt { get; init; }

    public string? DefaultModel { get; init; }

    /// <summary>Empty means every model is allowed.</summary>
    public IReadOnlyList<string> AllowedModels { get; init; } = [];

    /// <summary>Alias to real model name; resolved once (no chains).</summary>
    public IReadOnlyDictionary<string, string> ModelAliases { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<ProviderEntry> Providers { get; init; } = [];

    public KeyLimits Limits { get; init; } = KeyLimits.None;

    public KeyBudget? Budget { get; init; }

    public IReadOnlyList<TokenHash> TokenHashes { get; init; } = [];

    public override string ToString() => $"{Namespace}/{Name} ({KeyId})";
}
