using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using k8s;
using k8s.Models;

namespace VirtualKeys.Model.Tests.Support;

/// <summary>
/// Checks manifests against a CRD's openAPIV3Schema as a JSON Schema, as strictly as an API server
/// with strict field validation (kubectl's default): unknown fields are errors.
/// </summary>
internal sealed class CrdSchema
{
    private static readonly EvaluationOptions Options = new()
    {
        OutputFormat = OutputFormat.List,
        RequireFormatValidation = true,
    };

    private readonly JsonSchema _schema;

    public CrdSchema(V1CustomResourceDefinition crd)
    {
        var openApi = JsonNode.Parse(KubernetesJson.Serialize(crd.Spec.Versions.Single().Schema.OpenAPIV3Schema))!;
        MakeStrict(openApi);
        _schema = JsonSchema.FromText(openApi.ToJsonString());
    }

    /// <summary>Every violation as "instance location: message"; empty when the manifest is valid.</summary>
    public IReadOnlyList<string> Check(JsonNode? manifest)
    {
        var result = _schema.Evaluate(manifest, Options);
        return result.IsValid
            ? []
            : result.Details
                .Where(detail => detail.HasErrors)
                .SelectMany(detail => detail.Errors!.Select(error => $"{detail.InstanceLocation}: {error.Value}"))
                .ToList();
    }

    // The x-kubernetes-* keywords mean nothing to JSON Schema (list-map uniqueness is the validator's job here).
    private static void MakeStrict(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject schema:
                foreach (var key in schema.Select(pair => pair.Key).Where(key => key.StartsWith("x-kubernetes-", StringComparison.Ordinal)).ToList())
                {
                    schema.Remove(key);
                }

                if (schema["type"] is JsonValue type && type.GetValueKind() == JsonValueKind.String
                    && type.GetValue<string>() == "object" && schema.ContainsKey("properties") && !schema.ContainsKey("additionalProperties"))
                {
                    schema["additionalProperties"] = false;
                }

                foreach (var (_, child) in schema.ToList())
                {
                    MakeStrict(child);
                }

                break;
            case JsonArray list:
                foreach (var item in list)
                {
                    MakeStrict(item);
                }

                break;
        }
    }
}
