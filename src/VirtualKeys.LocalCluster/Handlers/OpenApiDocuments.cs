using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Api;
using VirtualKeys.LocalCluster.Registry;

namespace VirtualKeys.LocalCluster.Handlers;

/// <summary>
/// /openapi/v3: an index with one entry per group/version and a document per group/version.
/// kubectl apply reads the PATCH operations' x-kubernetes-group-version-kind and fieldValidation
/// parameter to decide that the server validates fields itself; the component schemas serve
/// kubectl explain. Built-in kinds do not advertise strategic merge patch here, so kubectl
/// computes it from its own compiled-in types, as it does against servers without OpenAPI v3.
/// </summary>
internal sealed class OpenApiDocuments
{
    private const string ObjectMetaRef = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
    private readonly ResourceRegistry _registry;
    private readonly Lock _lock = new();
    private long _cachedRevision = -1;
    private Dictionary<string, (byte[] Json, string Hash)> _documents = [];

    public OpenApiDocuments(ResourceRegistry registry)
    {
        _registry = registry;
    }

    public JsonObject Index()
    {
        var paths = new JsonObject();
        foreach (var (key, document) in Documents())
        {
            paths[key] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{key}?hash={document.Hash}" };
        }

        return new JsonObject { ["paths"] = paths };
    }

    public byte[]? Document(string key) => Documents().TryGetValue(key, out var document) ? document.Json : null;

    private Dictionary<string, (byte[] Json, string Hash)> Documents()
    {
        lock (_lock)
        {
            if (_cachedRevision == _registry.Revision)
            {
                return _documents;
            }

            var revision = _registry.Revision;
            var documents = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
            foreach (var group in _registry.All.GroupBy(t => t.GroupVersion))
            {
                var first = group.First();
                var key = first.Group.Length == 0 ? "api/" + first.Version : $"apis/{first.Group}/{first.Version}";
                var json = JsonSerializer.SerializeToUtf8Bytes(Build(group.ToList()));
                documents[key] = (json, Convert.ToHexString(SHA256.HashData(json)));
            }

            _documents = documents;
            _cachedRevision = revision;
            return documents;
        }
    }

    private static JsonObject Build(List<ResourceType> types)
    {
        var paths = new JsonObject();
        var schemas = new JsonObject
        {
            [ObjectMetaRef] = JsonNode.Parse(BuiltInSchemas.ObjectMetaJson),
        };
        foreach (var type in types)
        {
            var schemaName = SchemaName(type);
            var prefix = type.Group.Length == 0 ? $"/api/{type.Version}" : $"/apis/{type.Group}/{type.Version}";
            var collection = type.Namespaced ? $"{prefix}/namespaces/{{namespace}}/{type.Plural}" : $"{prefix}/{type.Plural}";
            var reference = new JsonObject { ["$ref"] = $"#/components/schemas/{schemaName}" };
            paths[collection] = new JsonObject
            {
                ["get"] = Operation(type, "list", $"list{type.Kind}", reference, ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"], null),
                ["post"] = Operation(type, "post", $"create{type.Kind}", reference, ["dryRun", "fieldManager", "fieldValidation"], ["application/json"]),
                ["delete"] = Operation(type, "deletecollection", $"deletecollection{type.Kind}", reference, ["labelSelector", "fieldSelector", "dryRun", "propagationPolicy"], null),
                ["parameters"] = PathParameters(type.Namespaced, withName: false),
            };
            paths[collection + "/{name}"] = new JsonObject
            {
                ["get"] = Operation(type, "get", $"read{type.Kind}", reference, [], null),
                ["put"] = Operation(type, "put", $"replace{type.Kind}", reference, ["dryRun", "fieldManager", "fieldValidation"], ["application/json"]),
                ["patch"] = Operation(type, "patch", $"patch{type.Kind}", reference, ["dryRun", "fieldManager", "fieldValidation", "force"], ResourceOperations.AcceptedPatchTypes(type).Where(t => type.IsCustom || t != "application/strategic-merge-patch+json").ToArray()),
                ["delete"] = Operation(type, "delete", $"delete{type.Kind}", reference, ["dryRun", "propagationPolicy", "gracePeriodSeconds"], ["application/json"]),
                ["parameters"] = PathParameters(type.Namespaced, withName: true),
            };
            if (type.HasStatusSubresource)
            {
                paths[collection + "/{name}/status"] = new JsonObject
                {
                    ["get"] = Operation(type, "get", $"read{type.Kind}Status", reference, [], null),
                    ["put"] = Operation(type, "put", $"replace{type.Kind}Status", reference, ["dryRun", "fieldManager", "fieldValidation"], ["application/json"]),
                    ["patch"] = Operation(type, "patch", $"patch{type.Kind}Status", reference, ["dryRun", "fieldManager", "fieldValidation", "force"], ResourceOperations.AcceptedPatchTypes(type).Where(t => type.IsCustom || t != "application/strategic-merge-patch+json").ToArray()),
                    ["parameters"] = PathParameters(type.Namespaced, withName: true),
                };
            }

            schemas[schemaName] = Schema(type);
        }

        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = "v1.35.0" },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = schemas },
        };
    }

    private static JsonObject Operation(ResourceType type, string action, string operationId, JsonObject reference, string[] queryParameters, IReadOnlyList<string>? bodyTypes)
    {
        var operation = new JsonObject
        {
            ["tags"] = new JsonArray(type.Group.Length == 0 ? "core_" + type.Version : type.Group + "_" + type.Version),
            ["operationId"] = operationId,
            ["parameters"] = new JsonArray(queryParameters.Select(p => (JsonNode)new JsonObject
            {
                ["name"] = p,
                ["in"] = "query",
                ["description"] = p,
                ["schema"] = new JsonObject { ["type"] = p is "limit" or "gracePeriodSeconds" ? "integer" : p is "watch" or "force" ? "boolean" : "string", ["uniqueItems"] = true },
            }).ToArray()),
            ["responses"] = new JsonObject
            {
                ["200"] = new JsonObject
                {
                    ["description"] = "OK",
                    ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = reference.DeepClone() } },
                },
            },
            ["x-kubernetes-action"] = action,
            ["x-kubernetes-group-version-kind"] = new JsonObject { ["group"] = type.Group, ["version"] = type.Version, ["kind"] = type.Kind },
        };
        if (bodyTypes is not null)
        {
            var content = new JsonObject();
            foreach (var bodyType in bodyTypes)
            {
                content[bodyType] = new JsonObject { ["schema"] = bodyType == "application/json-patch+json" ? new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "object" } } : reference.DeepClone() };
            }

            operation["requestBody"] = new JsonObject { ["content"] = content, ["required"] = true };
        }

        return operation;
    }

    private static JsonArray PathParameters(bool namespaced, bool withName)
    {
        var parameters = new JsonArray();
        if (withName)
        {
            parameters.Add(new JsonObject { ["name"] = "name", ["in"] = "path", ["required"] = true, ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true } });
        }

        if (namespaced)
        {
            parameters.Add(new JsonObject { ["name"] = "namespace", ["in"] = "path", ["required"] = true, ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true } });
        }

        parameters.Add(new JsonObject { ["name"] = "pretty", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true } });
        return parameters;
    }

    private static JsonObject Schema(ResourceType type)
    {
        var schema = type.Schema is { } element ? JsonNode.Parse(element.GetRawText())!.AsObject() : new JsonObject { ["type"] = "object" };
        if (schema["properties"] is JsonObject properties)
        {
            properties["metadata"] = new JsonObject { ["$ref"] = $"#/components/schemas/{ObjectMetaRef}" };
        }

        schema["x-kubernetes-group-version-kind"] = new JsonArray(new JsonObject { ["group"] = type.Group, ["version"] = type.Version, ["kind"] = type.Kind });
        return schema;
    }

    private static string SchemaName(ResourceType type)
    {
        if (type.Group.Length == 0)
        {
            return $"io.k8s.api.core.{type.Version}.{type.Kind}";
        }

        if (type.Group.EndsWith(".k8s.io", StringComparison.Ordinal))
        {
            return $"io.k8s.api.{type.Group[..^".k8s.io".Length]}.{type.Version}.{type.Kind}";
        }

        var reversed = string.Join('.', type.Group.Split('.').Reverse());
        return $"{reversed}.{type.Version}.{type.Kind}";
    }

    public static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
