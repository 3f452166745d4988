using System.Text.Json.Serialization;

namespace VirtualKeys.Sidecar.Errors;

/// <summary>
/// OpenAI's error envelope. On Anthropic-shaped routes the top-level <c>"type": "error"</c> is added,
/// which makes the same body parse as an Anthropic error too.
/// </summary>
public sealed class ErrorResponse
{
    [JsonPropertyOrder(-1)]
    public string? Type { get; init; }

    public required ErrorDetail Error { get; init; }
}
