namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>One row of vk.usage_events: a served request (no rejection) or a refused one.</summary>
internal sealed record RecordedEvent(string RequestId, long InputTokens, long OutputTokens, decimal CostUsd, string? Rejection)
{
    public bool Served => Rejection is null;
}
