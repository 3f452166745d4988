namespace VirtualKeys.Sidecar.Metering;

/// <summary>
/// One metered request (or, for <see cref="UsageOutcome.Rejected"/>, a count of refusals of one cause).
/// <see cref="RecordId"/> is unique, so a sink that retries a batch can insert idempotently.
/// </summary>
public sealed record UsageRecord
{
    public required string RecordId { get; init; }

    public required string KeyId { get; init; }

    public required string Namespace { get; init; }

    public required string Name { get; init; }

    public string? Model { get; init; }

    public string? Provider { get; init; }

    public long InputTokens { get; init; }

    public long OutputTokens { get; init; }

    public decimal CostUsd { get; init; }

    public required UsageOutcome Outcome { get; init; }

    /// <summary>The refusal code, the upstream status, or what the router reported.</summary>
    public string? Detail { get; init; }

    /// <summary>Requests this record stands for: 1, or the number of aggregated refusals.</summary>
    public int Count { get; init; } = 1;

    /// <summary>True when the tokens are the sidecar's estimate because nobody reported real usage.</summary>
    public bool Estimated { get; init; }

    public double? LatencyMs { get; init; }

    /// <summary>The key had a budget: the registry adds its spend up per key at once, where the shared budget pool reads it.</summary>
    public bool KeyHasBudget { get; init; }

    public required DateTimeOffset Timestamp { get; init; }
}
