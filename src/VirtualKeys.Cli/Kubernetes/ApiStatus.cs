using System.Text.Json;
using k8s.Autorest;

namespace VirtualKeys.Cli.Kubernetes;

/// <summary>The parts of a refusal's metav1.Status body that tell a missing object from a missing namespace or resource type.</summary>
internal sealed record ApiStatus(string? Message, string? DetailsName, string? DetailsKind)
{
    public static ApiStatus From(HttpOperationException ex)
    {
        var content = ex.Response?.Content;
        if (string.IsNullOrEmpty(content))
        {
            return new(null, null, null);
        }

        try
        {
            using var document = JsonDocument.Parse(content);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new(null, null, null);
            }

            var details = root.TryGetProperty("details", out var d) && d.ValueKind == JsonValueKind.Object ? d : default;
            return new(Text(root, "message"), Text(details, "name"), Text(details, "kind"));
        }
        catch (JsonException)
        {
            return new(null, null, null);
        }
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
