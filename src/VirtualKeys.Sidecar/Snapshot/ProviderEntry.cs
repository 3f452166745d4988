namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>
/// One real provider key behind a virtual key. A class rather than a record so that no generated
/// <c>ToString</c> can ever print <see cref="Credential"/> into a log line.
/// </summary>
public sealed class ProviderEntry
{
    public required string Name { get; init; }

    public required ProviderType Type { get; init; }

    /// <summary>Null means the provider's public endpoint; required for AzureOpenAI and OpenAICompatible.</summary>
    public string? BaseUrl { get; init; }

    /// <summary>The decrypted provider key. Handed to routers and upstreams, never logged.</summary>
    public required string Credential { get; init; }

    /// <summary>Models this provider serves; empty means any model the key allows.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];

    /// <summary>Failover tier: lower tiers are tried first.</summary>
    public int Priority { get; init; }

    /// <summary>Share of traffic inside the tier; 0 makes the provider a standby tried after the others.</summary>
    public int Weight { get; init; } = 1;

    public string? AzureApiVersion { get; init; }

    public override string ToString() => $"{Name} ({Type})";
}
