using System.Text.Json.Serialization;

namespace VirtualKeys.Sidecar.Resolve;

/// <summary>Body of <c>POST /v1/usage</c>; reporting the same decision again changes nothing.</summary>
public sealed class UsageReport
{
    public string? DecisionId { get; set; }

    public long? InputTokens { get; set; }

    public long? OutputTokens { get; set; }

    /// <summary>Of <see cref="InputTokens"/>, read from the provider's prompt cache (OpenAI's cached_tokens, Anthropic's cache_read_input_tokens).</summary>
    public long? CachedInputTokens { get; set; }

    /// <summary>Of <see cref="InputTokens"/>, written to the prompt cache (Anthropic's cache_creation_input_tokens).</summary>
    public long? CacheWriteInputTokens { get; set; }

    /// <summary>Of <see cref="CacheWriteInputTokens"/>, kept for an hour (Anthropic's cache_creation.ephemeral_1h_input_tokens).</summary>
    public long? CacheWriteOneHourInputTokens { get; set; }

    /// <summary>The upstream HTTP status (a number) or one of "success", "error", "cancelled".</summary>
    [JsonConverter(typeof(UsageReportStatusConverter))]
    public UsageReportStatus? Status { get; set; }

    public double? LatencyMs { get; set; }

    /// <summary>The provider the router ended up using (a fallback, perhaps); defaults to the first one offered.</summary>
    public string? Provider { get; set; }
}
