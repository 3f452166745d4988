namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>A key's all-time usage as vk.usage_rows reads it (its monthly rows and its pending usage); rejections as JSON, summed by cause.</summary>
internal sealed record RecordedTotal(long Requests, long InputTokens, long OutputTokens, decimal CostUsd, string RejectionsJson);
