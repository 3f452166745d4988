namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>A resolve decision whose usage the client reported and the sidecar answered <c>recorded</c>, with the cost it stated.</summary>
internal sealed record ReportedUsage(string DecisionId, long InputTokens, long OutputTokens, decimal CostUsd, LoadPhase Phase);
