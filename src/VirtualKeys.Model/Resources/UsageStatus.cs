using System.Text.Json.Serialization;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Model;

/// <summary>What the key consumed in one budget period, summed over every sidecar replica.</summary>
public sealed class UsageStatus
{
    /// <summary>When the current period began.</summary>
    [JsonPropertyName("periodStart")]
    public DateTimeOffset? PeriodStart { get; set; }

    /// <summary>Requests served in the period (refused requests are counted in rejections instead).</summary>
    [RangeMinimum(0)]
    [JsonPropertyName("requests")]
    public long Requests { get; set; }

    /// <summary>Prompt tokens in the period, as reported by the providers.</summary>
    [RangeMinimum(0)]
    [JsonPropertyName("inputTokens")]
    public long InputTokens { get; set; }

    /// <summary>Completion tokens in the period, as reported by the providers.</summary>
    [RangeMinimum(0)]
    [JsonPropertyName("outputTokens")]
    public long OutputTokens { get; set; }

    /// <summary>Spend in the period, in US dollars, as a decimal string such as "3.25".</summary>
    [JsonPropertyName("costUsd")]
    public string? CostUsd { get; set; }

    /// <summary>
    /// Refused requests in the period by cause: rpm, tpm, parallel, budget, expired, suspended or model
    /// (not allowed, or served by none of the key's providers); any other refusal of the key's token
    /// under the sidecar's error code, such as invalid_api_key (a token past its rotation grace) or
    /// usage_buffer_full.
    /// </summary>
    [JsonPropertyName("rejections")]
    public IDictionary<string, long>? Rejections { get; set; }

    /// <summary>When the last request was served.</summary>
    [JsonPropertyName("lastRequestTime")]
    public DateTimeOffset? LastRequestTime { get; set; }
}
