namespace VirtualKeys.Registry.Usage;

/// <summary>One request made (or refused) with a virtual key.</summary>
/// <param name="RequestId">Unique per request: a batch that is sent twice is counted once.</param>
/// <param name="RejectionCause">Why the request was refused (e.g. RateLimited, BudgetExhausted); null when it was served.</param>
public sealed record UsageEvent(
    string RequestId,
    string KeyId,
    DateTimeOffset OccurredAt,
    string? Model,
    string? Provider,
    long InputTokens,
    long OutputTokens,
    decimal CostUsd,
    string? RejectionCause = null);
