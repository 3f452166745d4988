using System.Globalization;
using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Errors;
using VirtualKeys.LocalCluster.Registry;

namespace VirtualKeys.LocalCluster.Handlers;

/// <summary>The autoscaling/v1 Scale view of a custom resource, through the CRD's replica paths.</summary>
internal static class ScaleView
{
    public static JsonObject Build(ResourceType type, JsonObject obj)
    {
        var scale = type.Scale!;
        var metadata = obj["metadata"]!.AsObject();
        var result = new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = metadata["name"]?.DeepClone(),
                ["namespace"] = metadata["namespace"]?.DeepClone(),
                ["uid"] = metadata["uid"]?.DeepClone(),
                ["resourceVersion"] = metadata["resourceVersion"]?.DeepClone(),
                ["creationTimestamp"] = metadata["creationTimestamp"]?.DeepClone(),
            },
            ["spec"] = new JsonObject { ["replicas"] = Read(obj, scale.SpecReplicasPath) ?? 0 },
            ["status"] = new JsonObject { ["replicas"] = Read(obj, scale.StatusReplicasPath) ?? 0 },
        };
        if (scale.LabelSelectorPath is { } selectorPath && ReadNode(obj, selectorPath) is JsonValue selector)
        {
            result["status"]!["selector"] = selector.DeepClone();
        }

        return result;
    }

    public static JsonObject Apply(ResourceType type, JsonObject obj, JsonObject scale)
    {
        if (scale["spec"]?["replicas"] is not JsonValue replicas || !replicas.TryGetValue<long>(out var count))
        {
            throw ApiErrors.BadRequest("Scale.autoscaling \"\" is invalid: spec.replicas: Required value");
        }

        if (count < 0)
        {
            throw new ApiException(422, "Invalid", $"Scale.autoscaling \"{obj["metadata"]?["name"]}\" is invalid: spec.replicas: Invalid value: {count}: must be greater than or equal to 0");
        }

        var segments = type.Scale!.SpecReplicasPath.TrimStart('.').Split('.');
        JsonObject current = obj;
        foreach (var segment in segments[..^1])
        {
            if (current[segment] is not JsonObject next)
            {
                next = [];
                current[segment] = next;
            }

            current = next;
        }

        current[segments[^1]] = count;
        if ((string?)scale["metadata"]?["resourceVersion"] is { Length: > 0 } rv)
        {
            obj["metadata"]!["resourceVersion"] = rv;
        }

        return obj;
    }

    private static long? Read(JsonObject obj, string path) =>
        ReadNode(obj, path) is JsonValue value && value.TryGetValue<long>(out var number) ? number
        : ReadNode(obj, path) is JsonValue text && long.TryParse(text.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed
        : null;

    private static JsonNode? ReadNode(JsonObject obj, string path)
    {
        JsonNode? current = obj;
        foreach (var segment in path.TrimStart('.').Split('.'))
        {
            current = current is JsonObject o ? o[segment] : null;
        }

        return current;
    }
}
