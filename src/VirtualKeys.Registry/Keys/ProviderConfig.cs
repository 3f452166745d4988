namespace VirtualKeys.Registry.Keys;

/// <summary>A provider behind a key, without its secret.</summary>
/// <param name="Models">The models this provider serves for the key; empty means any allowed model.</param>
/// <param name="Priority">Failover tier: lower tiers are tried first.</param>
/// <param name="Weight">Load share among providers of the same tier.</param>
public sealed record ProviderConfig(
    string Name,
    ProviderType Type,
    string? BaseUrl = null,
    IReadOnlyList<string>? Models = null,
    int Priority = 0,
    int Weight = 1);
