using System.Text.Json.Serialization;

namespace VirtualKeys.Operator.Tests.Runtime.Support;

internal sealed class WidgetSpec
{
    [JsonPropertyName("color")]
    public string? Color { get; set; }

    [JsonPropertyName("size")]
    public int? Size { get; set; }
}
