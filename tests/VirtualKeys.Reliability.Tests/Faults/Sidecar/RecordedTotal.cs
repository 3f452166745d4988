namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>A key's row of vk.usage_totals for the period <c>total</c>; rejections as the JSON the registry keeps.</summary>
internal sealed record RecordedTotal(long Requests, long InputTokens, long OutputTokens, decimal CostUsd, string RejectionsJson);
