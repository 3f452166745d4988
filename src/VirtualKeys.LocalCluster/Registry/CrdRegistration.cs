using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Errors;
using VirtualKeys.LocalCluster.Validation;

namespace VirtualKeys.LocalCluster.Registry;

/// <summary>
/// Reads an apiextensions.k8s.io/v1 CustomResourceDefinition: defaults and validates it as the
/// apiextensions server would (the parts that matter here), and turns each served version into
/// a <see cref="ResourceType"/>.
/// </summary>
internal static class CrdRegistration
{
    public static void ApplyDefaults(JsonObject crd)
    {
        if (crd["spec"] is not JsonObject spec)
        {
            return;
        }

        if (spec["names"] is JsonObject names && (string?)names["kind"] is { } kind)
        {
            names["singular"] ??= kind.ToLowerInvariant();
            names["listKind"] ??= kind + "List";
        }

        spec["conversion"] ??= new JsonObject { ["strategy"] = "None" };
    }

    public static List<FieldError> Validate(JsonObject crd)
    {
        var errors = new List<FieldError>();
        var spec = crd["spec"] as JsonObject;
        if (spec is null)
        {
            errors.Add(FieldError.Required("spec"));
            return errors;
        }

        var group = (string?)spec["group"] ?? "";
        var names = spec["names"] as JsonObject ?? [];
        var plural = (string?)names["plural"] ?? "";
        if (group.Length == 0)
        {
            errors.Add(FieldError.Required("spec.group"));
        }
        else if (!group.Contains('.', StringComparison.Ordinal))
        {
            errors.Add(FieldError.Invalid("spec.group", spec["group"], "should be a domain with at least one dot"));
        }

        if (plural.Length == 0)
        {
            errors.Add(FieldError.Required("spec.names.plural"));
        }
        else if (!ObjectMetaValidator.IsDnsLabel(plural))
        {
            errors.Add(FieldError.Invalid("spec.names.plural", names["plural"], "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"));
        }

        if (string.IsNullOrEmpty((string?)names["kind"]))
        {
            errors.Add(FieldError.Required("spec.names.kind"));
        }

        var name = (string?)crd["metadata"]?["name"] ?? "";
        if (plural.Length > 0 && group.Length > 0 && name != $"{plural}.{group}")
        {
            errors.Add(FieldError.Invalid("metadata.name", crd["metadata"]?["name"], "must be spec.names.plural+\".\"+spec.group"));
        }

        var scope = (string?)spec["scope"];
        if (scope is not ("Namespaced" or "Cluster"))
        {
            errors.Add(scope is null
                ? FieldError.Required("spec.scope")
                : FieldError.NotSupported("spec.scope", spec["scope"], ["\"Cluster\"", "\"Namespaced\""]));
        }

        var versions = spec["versions"] as JsonArray ?? [];
        if (versions.Count == 0)
        {
            errors.Add(FieldError.Invalid("spec.versions", versions, "must have exactly one version marked as storage version"));
        }
        else if (versions.Count(v => v?["storage"] is JsonValue s && s.GetValueKind() == JsonValueKind.True) != 1)
        {
            errors.Add(FieldError.Invalid("spec.versions", versions, "must have exactly one version marked as storage version"));
        }

        for (var i = 0; i < versions.Count; i++)
        {
            var version = versions[i] as JsonObject ?? [];
            if (string.IsNullOrEmpty((string?)version["name"]))
            {
                errors.Add(FieldError.Required($"spec.versions[{i}].name"));
            }

            if (version["schema"]?["openAPIV3Schema"] is not JsonObject schema)
            {
                errors.Add(FieldError.Required($"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required"));
            }
            else if ((string?)schema["type"] != "object")
            {
                errors.Add(FieldError.Required($"spec.versions[{i}].schema.openAPIV3Schema.type", "must be object at the root"));
            }
        }

        return errors;
    }

    public static JsonObject BuildStatus(JsonObject crd, string now)
    {
        var spec = crd["spec"]!.AsObject();
        var storage = spec["versions"]!.AsArray().First(v => v?["storage"] is JsonValue s && s.GetValueKind() == JsonValueKind.True)!["name"]!.ToString();
        var stored = crd["status"]?["storedVersions"] as JsonArray ?? [];
        var storedVersions = stored.Select(v => v!.ToString()).Append(storage).Distinct().ToList();
        return new JsonObject
        {
            ["conditions"] = new JsonArray(
                Condition("NamesAccepted", "NoConflicts", "no conflicts found", now),
                Condition("Established", "InitialNamesAccepted", "the initial names have been accepted", now)),
            ["acceptedNames"] = spec["names"]!.DeepClone(),
            ["storedVersions"] = new JsonArray(storedVersions.Select(v => (JsonNode)v).ToArray()),
        };
    }

    public static IReadOnlyList<ResourceType> ToResourceTypes(JsonObject crd)
    {
        var spec = crd["spec"]!.AsObject();
        var group = spec["group"]!.ToString();
        var names = spec["names"]!.AsObject();
        var plural = names["plural"]!.ToString();
        var kind = names["kind"]!.ToString();
        var versions = spec["versions"]!.AsArray().OfType<JsonObject>().ToList();
        var storageVersion = versions.First(v => v["storage"] is JsonValue s && s.GetValueKind() == JsonValueKind.True)["name"]!.ToString();
        var types = new List<ResourceType>();
        foreach (var version in versions)
        {
            if (version["served"] is JsonValue served && served.GetValueKind() == JsonValueKind.False)
            {
                continue;
            }

            var subresources = version["subresources"] as JsonObject;
            var scale = subresources?["scale"] is JsonObject s
                ? new ScaleSubresource(s["specReplicasPath"]?.ToString() ?? ".spec.replicas", s["statusReplicasPath"]?.ToString() ?? ".status.replicas", s["labelSelectorPath"]?.ToString())
                : null;
            types.Add(new ResourceType
            {
                Group = group,
                Version = version["name"]!.ToString(),
                Plural = plural,
                Singular = (string?)names["singular"] ?? kind.ToLowerInvariant(),
                Kind = kind,
                ListKind = (string?)names["listKind"] ?? kind + "List",
                Namespaced = (string?)spec["scope"] == "Namespaced",
                Strategy = ResourceStrategy.Custom,
                StorageKey = $"{group}/{plural}",
                StorageApiVersion = $"{group}/{storageVersion}",
                ShortNames = Strings(names["shortNames"]),
                Categories = Strings(names["categories"]),
                HasStatusSubresource = subresources?["status"] is not null,
                Scale = scale,
                Schema = ToElement(version["schema"]?["openAPIV3Schema"]),
                PrinterColumns = Columns(version["additionalPrinterColumns"] as JsonArray),
                SelectableFields = (version["selectableFields"] as JsonArray ?? [])
                    .Select(f => ((string?)f?["jsonPath"] ?? "").TrimStart('.'))
                    .Where(f => f.Length > 0)
                    .ToList(),
                TracksGeneration = true,
                AllowUnconditionalUpdate = false,
                CrdName = crd["metadata"]!["name"]!.ToString(),
            });
        }

        return types;
    }

    private static JsonObject Condition(string type, string reason, string message, string now) => new()
    {
        ["type"] = type,
        ["status"] = "True",
        ["lastTransitionTime"] = now,
        ["reason"] = reason,
        ["message"] = message,
    };

    private static List<string> Strings(JsonNode? node) =>
        node is JsonArray array ? array.Select(v => v?.ToString() ?? "").Where(v => v.Length > 0).ToList() : [];

    private static JsonElement? ToElement(JsonNode? node) =>
        node is null ? null : JsonSerializer.Deserialize<JsonElement>(node.ToJsonString());

    private static List<PrinterColumn> Columns(JsonArray? columns) =>
        columns is null
            ? []
            : columns.OfType<JsonObject>().Select(c => new PrinterColumn(
                (string?)c["name"] ?? "",
                (string?)c["type"] ?? "string",
                (string?)c["format"],
                (string?)c["description"] ?? "",
                c["priority"] is JsonValue p ? p.GetValue<int>() : 0,
                (string?)c["jsonPath"] ?? "")).ToList();
}
