namespace VirtualKeys.Sidecar.Resolve;

public sealed class UsageReportResponse
{
    public required string DecisionId { get; init; }

    /// <summary>"recorded" the first time; "duplicate" when the decision was already settled.</summary>
    public required string Status { get; init; }

    public decimal? CostUsd { get; init; }
}
