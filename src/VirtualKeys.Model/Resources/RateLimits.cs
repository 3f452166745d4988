using System.Text.Json.Serialization;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Model;

/// <summary>Limits on how fast the key may be used; requests beyond them are refused with HTTP 429.</summary>
public sealed class RateLimits
{
    /// <summary>Requests allowed per UTC minute (fixed windows starting on the minute), across all sidecar replicas.</summary>
    [RangeMinimum(1)]
    [JsonPropertyName("requestsPerMinute")]
    public int? RequestsPerMinute { get; set; }

    /// <summary>Input plus output tokens allowed per UTC minute (fixed windows starting on the minute), across all sidecar replicas.</summary>
    [RangeMinimum(1)]
    [JsonPropertyName("tokensPerMinute")]
    public int? TokensPerMinute { get; set; }

    /// <summary>Requests allowed in flight at the same time.</summary>
    [RangeMinimum(1)]
    [JsonPropertyName("maxParallelRequests")]
    public int? MaxParallelRequests { get; set; }
}
