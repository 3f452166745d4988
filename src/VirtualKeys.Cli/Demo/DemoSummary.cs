using System.Text.Json.Serialization;

namespace VirtualKeys.Cli.Demo;

/// <summary>The last line of <c>vk demo --json</c>: what a script or test checks.</summary>
internal sealed record DemoSummary(
    [property: JsonPropertyName("ready")] bool Ready,
    [property: JsonPropertyName("virtual_key")] string VirtualKey,
    [property: JsonPropertyName("requests_sent")] int RequestsSent,
    [property: JsonPropertyName("succeeded")] int Succeeded,
    [property: JsonPropertyName("rate_limited")] int RateLimited,
    [property: JsonPropertyName("models_seen")] IReadOnlyList<string> ModelsSeen,
    [property: JsonPropertyName("default_model")] string? DefaultModel,
    [property: JsonPropertyName("status_requests")] long StatusRequests,
    [property: JsonPropertyName("status_cost_usd")] decimal StatusCostUsd,
    [property: JsonPropertyName("printer_columns")] IReadOnlyList<string> PrinterColumns);
