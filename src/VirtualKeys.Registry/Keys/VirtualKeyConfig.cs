namespace VirtualKeys.Registry.Keys;

/// <summary>
/// A key's resolved configuration, stored as jsonb. It holds no secret: provider keys travel
/// separately as <see cref="ProviderCredential"/> and are encrypted.
/// </summary>
public sealed record VirtualKeyConfig
{
    public string? DefaultModel { get; init; }

    public IReadOnlyList<string> AllowedModels { get; init; } = [];

    public IReadOnlyDictionary<string, string> ModelAliases { get; init; } = new Dictionary<string, string>();

    public KeyLimits Limits { get; init; } = new();

    public KeyBudget? Budget { get; init; }

    public DateTimeOffset? ExpiresAt { get; init; }

    public bool Suspended { get; init; }

    public IReadOnlyList<ProviderConfig> Providers { get; init; } = [];
}
