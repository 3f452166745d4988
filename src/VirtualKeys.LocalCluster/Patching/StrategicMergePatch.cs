using System.Text.Json.Nodes;

namespace VirtualKeys.LocalCluster.Patching;

/// <summary>
/// The part of strategic merge patch the built-in kinds served here need: maps merge, null
/// deletes, lists replace except the few with a merge key (finalizers merge as a set,
/// ownerReferences by uid), and the directives kubectl emits ($patch, $retainKeys,
/// $deleteFromPrimitiveList, $setElementOrder).
/// </summary>
internal static class StrategicMergePatch
{
    private static readonly Dictionary<string, string?> MergeLists = new(StringComparer.Ordinal)
    {
        ["metadata.finalizers"] = null,
        ["metadata.ownerReferences"] = "uid",
        ["spec.finalizers"] = null,
    };

    public static JsonObject Apply(JsonObject target, JsonObject patch) => MergeMap(target, patch, "");

    private static JsonObject MergeMap(JsonObject target, JsonObject patch, string path)
    {
        if ((string?)patch["$patch"] == "replace")
        {
            var replacement = (JsonObject)patch.DeepClone();
            replacement.Remove("$patch");
            return StripDirectives(replacement);
        }

        if (patch["$retainKeys"] is JsonArray retain)
        {
            var keep = retain.Select(k => k?.ToString()).ToHashSet(StringComparer.Ordinal);
            foreach (var key in target.Select(p => p.Key).ToList())
            {
                if (!keep.Contains(key))
                {
                    target.Remove(key);
                }
            }
        }

        foreach (var (key, value) in patch)
        {
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal) || key is "$retainKeys" or "$patch")
            {
                continue;
            }

            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                var field = key["$deleteFromPrimitiveList/".Length..];
                if (target[field] is JsonArray list && value is JsonArray remove)
                {
                    foreach (var item in list.Where(i => remove.Any(r => JsonNode.DeepEquals(r, i))).ToList())
                    {
                        list.Remove(item);
                    }
                }

                continue;
            }

            var childPath = path.Length == 0 ? key : path + "." + key;
            if (value is null)
            {
                target.Remove(key);
                continue;
            }

            if (value is JsonObject childPatch && (string?)childPatch["$patch"] == "delete")
            {
                target.Remove(key);
                continue;
            }

            var existing = target[key];
            JsonNode merged = (existing, value) switch
            {
                (JsonObject existingObject, JsonObject patchObject) => MergeMap((JsonObject)existingObject.DeepClone(), patchObject, childPath),
                (JsonArray existingArray, JsonArray patchArray) when MergeLists.TryGetValue(childPath, out var mergeKey) => MergeList(existingArray, patchArray, mergeKey),
                (_, JsonObject patchObject) => StripDirectives((JsonObject)patchObject.DeepClone()),
                _ => value.DeepClone(),
            };
            target.Remove(key);
            target[key] = merged;
        }

        return target;
    }

    private static JsonArray MergeList(JsonArray existing, JsonArray patch, string? mergeKey)
    {
        var result = (JsonArray)existing.DeepClone();
        foreach (var item in patch)
        {
            if (mergeKey is null)
            {
                if (!result.Any(r => JsonNode.DeepEquals(r, item)))
                {
                    result.Add(item?.DeepClone());
                }

                continue;
            }

            if (item is not JsonObject patchItem)
            {
                continue;
            }

            var match = result.OfType<JsonObject>().FirstOrDefault(r => JsonNode.DeepEquals(r[mergeKey], patchItem[mergeKey]));
            if ((string?)patchItem["$patch"] == "delete")
            {
                if (match is not null)
                {
                    result.Remove(match);
                }
            }
            else if (match is not null)
            {
                var index = result.IndexOf(match);
                result[index] = MergeMap((JsonObject)match.DeepClone(), patchItem, "");
            }
            else
            {
                result.Add(StripDirectives((JsonObject)patchItem.DeepClone()));
            }
        }

        return result;
    }

    private static JsonObject StripDirectives(JsonObject obj)
    {
        foreach (var key in obj.Select(p => p.Key).Where(k => k.StartsWith('$')).ToList())
        {
            obj.Remove(key);
        }

        foreach (var (_, value) in obj)
        {
            if (value is JsonObject child)
            {
                StripDirectives(child);
            }
        }

        return obj;
    }
}
