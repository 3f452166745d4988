using System.Text.Json;
using System.Text.Json.Nodes;

namespace VirtualKeys.LocalCluster.Validation;

/// <summary>
/// Drops fields a structural schema does not declare (unless x-kubernetes-preserve-unknown-fields),
/// and reports their paths so fieldValidation=Strict/Warn can name them as a real server does.
/// </summary>
internal static class SchemaPruner
{
    public static void Prune(JsonObject root, JsonElement schema, JsonElement objectMetaSchema, List<string> unknown)
    {
        foreach (var (key, value) in root.ToList())
        {
            if (key is "apiVersion" or "kind")
            {
                continue;
            }

            if (key == "metadata")
            {
                if (value is JsonObject metadata)
                {
                    PruneNode(metadata, objectMetaSchema, "metadata", unknown);
                }

                continue;
            }

            var propertySchema = PropertySchema(schema, key);
            if (propertySchema is null)
            {
                if (!PreservesUnknown(schema))
                {
                    root.Remove(key);
                    unknown.Add(key);
                }

                continue;
            }

            PruneNode(value, propertySchema.Value, key, unknown);
        }
    }

    private static void PruneNode(JsonNode? node, JsonElement schema, string path, List<string> unknown)
    {
        switch (node)
        {
            case JsonObject obj:
                var hasProperties = schema.TryGetProperty("properties", out _);
                var additional = schema.TryGetProperty("additionalProperties", out var additionalSchema) ? additionalSchema : (JsonElement?)null;
                foreach (var (key, value) in obj.ToList())
                {
                    var childPath = path + "." + key;
                    var childSchema = PropertySchema(schema, key);
                    if (childSchema is { } declared)
                    {
                        PruneNode(value, declared, childPath, unknown);
                    }
                    else if (additional is { ValueKind: JsonValueKind.Object } additionalObject)
                    {
                        PruneNode(value, additionalObject, childPath, unknown);
                    }
                    else if (additional is { ValueKind: JsonValueKind.True } || PreservesUnknown(schema) || IsEmbeddedMetaField(schema, key))
                    {
                        continue;
                    }
                    else if (hasProperties || additional is { ValueKind: JsonValueKind.False } || IsObjectType(schema))
                    {
                        obj.Remove(key);
                        unknown.Add(childPath);
                    }
                }

                break;
            case JsonArray array when schema.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Object:
                for (var i = 0; i < array.Count; i++)
                {
                    PruneNode(array[i], items, $"{path}[{i}]", unknown);
                }

                break;
        }
    }

    private static JsonElement? PropertySchema(JsonElement schema, string key) =>
        schema.TryGetProperty("properties", out var properties) && properties.TryGetProperty(key, out var property) ? property : null;

    private static bool PreservesUnknown(JsonElement schema) =>
        schema.TryGetProperty("x-kubernetes-preserve-unknown-fields", out var preserve) && preserve.ValueKind == JsonValueKind.True;

    private static bool IsObjectType(JsonElement schema) =>
        schema.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "object"
        && !schema.TryGetProperty("x-kubernetes-int-or-string", out _);

    private static bool IsEmbeddedMetaField(JsonElement schema, string key) =>
        key is "apiVersion" or "kind" or "metadata"
        && schema.TryGetProperty("x-kubernetes-embedded-resource", out var embedded) && embedded.ValueKind == JsonValueKind.True;
}
