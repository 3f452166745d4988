namespace VirtualKeys.Sidecar.Resolve;

public sealed class ResolveResponse
{
    /// <summary>Report usage for this id to <c>POST /v1/usage</c>; until then it holds a parallel slot and its reservations.</summary>
    public required string DecisionId { get; init; }

    public required KeyInfo Key { get; init; }

    /// <summary>The model to ask the provider for: alias resolved, default applied.</summary>
    public required string Model { get; init; }

    public required ProviderInfo Provider { get; init; }

    /// <summary>Providers to try, in order, when <see cref="Provider"/> fails before answering.</summary>
    public required IReadOnlyList<ProviderInfo> Fallbacks { get; init; }

    /// <summary>When an unreported decision is settled at its estimate and its slot released.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }
}
