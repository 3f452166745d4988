using System.Text.Json;
using System.Text.Json.Nodes;

namespace VirtualKeys.LocalCluster.Validation;

/// <summary>Applies <c>default</c> values of a structural schema to absent fields, as CR reads and writes do.</summary>
internal static class SchemaDefaulter
{
    public static void Apply(JsonNode? node, JsonElement schema)
    {
        switch (node)
        {
            case JsonObject obj:
                if (schema.TryGetProperty("properties", out var properties))
                {
                    foreach (var property in properties.EnumerateObject())
                    {
                        if (property.Name == "metadata" && ReferenceEquals(node.Parent, null))
                        {
                            continue;
                        }

                        if (!obj.ContainsKey(property.Name) && property.Value.TryGetProperty("default", out var defaultValue))
                        {
                            obj[property.Name] = JsonNode.Parse(defaultValue.GetRawText());
                        }

                        if (obj[property.Name] is { } child)
                        {
                            Apply(child, property.Value);
                        }
                    }
                }
                else if (schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind == JsonValueKind.Object)
                {
                    foreach (var (_, value) in obj.ToList())
                    {
                        Apply(value, additional);
                    }
                }

                break;
            case JsonArray array when schema.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Object:
                foreach (var item in array)
                {
                    Apply(item, items);
                }

                break;
        }
    }
}
