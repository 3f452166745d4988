using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Errors;

namespace VirtualKeys.LocalCluster.Json;

/// <summary>
/// Parses a request body into a mutable tree the way Go's decoder reads it (a repeated field:
/// the last one wins) while noting the repeats, which fieldValidation=Strict refuses.
/// </summary>
internal static class JsonBody
{
    public static JsonNode? Parse(ReadOnlyMemory<byte> body, List<string> duplicates)
    {
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 256 });
            return Convert(document.RootElement, "", duplicates);
        }
        catch (JsonException e)
        {
            throw ApiErrors.BadRequest($"couldn't get version/kind; json parse error: {e.Message}");
        }
    }

    private static JsonNode? Convert(JsonElement element, string path, List<string> duplicates)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var obj = new JsonObject();
                foreach (var property in element.EnumerateObject())
                {
                    var childPath = path.Length == 0 ? property.Name : path + "." + property.Name;
                    if (obj.ContainsKey(property.Name))
                    {
                        duplicates.Add(childPath);
                        obj.Remove(property.Name);
                    }

                    obj[property.Name] = Convert(property.Value, childPath, duplicates);
                }

                return obj;
            case JsonValueKind.Array:
                var array = new JsonArray();
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    array.Add(Convert(item, $"{path}[{index++}]", duplicates));
                }

                return array;
            case JsonValueKind.Null:
                return null;
            default:
                return JsonValue.Create(element.Clone());
        }
    }
}
