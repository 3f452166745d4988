using System.Globalization;
using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Errors;

namespace VirtualKeys.LocalCluster.Patching;

/// <summary>RFC 6902 JSON patch (add, remove, replace, move, copy, test) over RFC 6901 pointers.</summary>
internal static class JsonPatch
{
    /// <summary>Applies the operations; a failed operation is a 422 as on a real server, a malformed one a 400.</summary>
    public static JsonNode Apply(JsonNode document, JsonNode? patch)
    {
        if (patch is not JsonArray operations)
        {
            throw ApiErrors.BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
        }

        var root = new JsonObject { ["doc"] = document };
        foreach (var operation in operations)
        {
            if (operation is not JsonObject op || (string?)op["op"] is not { } name || (string?)op["path"] is not { } path)
            {
                throw ApiErrors.BadRequest("json patch operation must have \"op\" and \"path\"");
            }

            switch (name)
            {
                case "add":
                    Add(root, path, Value(op));
                    break;
                case "remove":
                    Remove(root, path, name);
                    break;
                case "replace":
                    Remove(root, path, name);
                    Add(root, path, Value(op));
                    break;
                case "move":
                    var moved = Remove(root, From(op), name);
                    Add(root, path, moved);
                    break;
                case "copy":
                    Add(root, path, Resolve(root, From(op), name)?.DeepClone());
                    break;
                case "test":
                    if (!JsonNode.DeepEquals(Resolve(root, path, name), op["value"]))
                    {
                        throw Failed($"testing value {path} failed: test failed");
                    }

                    break;
                default:
                    throw ApiErrors.BadRequest($"Unexpected kind: {name}");
            }
        }

        return root["doc"] ?? throw Failed("the patch removed the whole object");
    }

    private static JsonNode? Value(JsonObject op) =>
        op.TryGetPropertyValue("value", out var value) ? value?.DeepClone() : throw ApiErrors.BadRequest("json patch operation is missing \"value\"");

    private static string From(JsonObject op) => (string?)op["from"] ?? throw ApiErrors.BadRequest("json patch operation is missing \"from\"");

    private static void Add(JsonObject root, string path, JsonNode? value)
    {
        var (parent, token) = Parent(root, path, "add");
        switch (parent)
        {
            case JsonObject obj:
                obj.Remove(token);
                obj[token] = value;
                break;
            case JsonArray array:
                if (token == "-")
                {
                    array.Add(value);
                }
                else if (int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index <= array.Count)
                {
                    array.Insert(index, value);
                }
                else
                {
                    throw Failed($"add operation does not apply: doc is missing path: \"{path}\": missing value");
                }

                break;
            default:
                throw Failed($"add operation does not apply: doc is missing path: \"{path}\": missing value");
        }
    }

    private static JsonNode? Remove(JsonObject root, string path, string op)
    {
        var (parent, token) = Parent(root, path, op);
        switch (parent)
        {
            case JsonObject obj when obj.TryGetPropertyValue(token, out var removed):
                obj.Remove(token);
                return removed;
            case JsonArray array when int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count:
                var item = array[index];
                array.RemoveAt(index);
                return item;
            default:
                throw Failed($"{op} operation does not apply: doc is missing path: \"{path}\": missing value");
        }
    }

    private static JsonNode? Resolve(JsonObject root, string path, string op)
    {
        var (parent, token) = Parent(root, path, op);
        return parent switch
        {
            JsonObject obj when obj.TryGetPropertyValue(token, out var value) => value,
            JsonArray array when int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count => array[index],
            _ => throw Failed($"{op} operation does not apply: doc is missing path: \"{path}\": missing value"),
        };
    }

    private static (JsonNode? Parent, string Token) Parent(JsonObject root, string path, string op)
    {
        if (path.Length == 0)
        {
            return (root, "doc");
        }

        if (!path.StartsWith('/'))
        {
            throw ApiErrors.BadRequest($"invalid JSON pointer \"{path}\"");
        }

        var tokens = path[1..].Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToArray();
        JsonNode? current = root["doc"];
        for (var i = 0; i < tokens.Length - 1; i++)
        {
            current = current switch
            {
                JsonObject obj => obj[tokens[i]],
                JsonArray array when int.TryParse(tokens[i], NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count => array[index],
                _ => null,
            };
            if (current is null)
            {
                throw Failed($"{op} operation does not apply: doc is missing path: \"{path}\": missing value");
            }
        }

        return (current, tokens[^1]);
    }

    private static ApiException Failed(string message) =>
        new(422, "Invalid", $"the server rejected our request due to an error in our request: {message}");
}
