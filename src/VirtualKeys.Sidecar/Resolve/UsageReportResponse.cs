namespace VirtualKeys.Sidecar.Resolve;

public sealed class UsageReportResponse
{
    public required string DecisionId { get; init; }

    /// <summary>"recorded" the first time; "already_settled" when the decision was already settled.</summary>
    public required string Status { get; init; }

    public decimal? CostUsd { get; init; }
}
