namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>A key's all-time usage from vk.usage_totals (the sum of its monthly rows); rejections as JSON, summed by cause.</summary>
internal sealed record RecordedTotal(long Requests, long InputTokens, long OutputTokens, decimal CostUsd, string RejectionsJson);
