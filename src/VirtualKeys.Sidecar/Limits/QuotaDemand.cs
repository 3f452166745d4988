using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Limits;

/// <summary>
/// What one request asks of a key's quota. The limits travel with each demand (rather than being
/// registered) so a snapshot change applies to the very next request.
/// </summary>
public readonly record struct QuotaDemand(KeyLimits Limits, KeyBudget? Budget, long EstimatedTokens, decimal EstimatedCostUsd);
