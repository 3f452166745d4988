using System.Text.Json;

namespace VirtualKeys.LocalCluster.Registry;

/// <summary>
/// Structural schemas of the built-in kinds served here, in the same form a CRD uses, so one
/// pruner and one unknown-field check serve both, and OpenAPI documents can publish them.
/// They describe the fields, not every rule: Go types on a real server do that.
/// </summary>
internal static class BuiltInSchemas
{
    public const string ObjectMetaJson = """
        {"type":"object","properties":{
          "name":{"type":"string"},"generateName":{"type":"string"},"namespace":{"type":"string"},
          "selfLink":{"type":"string"},"uid":{"type":"string"},"resourceVersion":{"type":"string"},
          "generation":{"type":"integer","format":"int64"},"creationTimestamp":{"type":"string","format":"date-time","nullable":true},
          "deletionTimestamp":{"type":"string","format":"date-time","nullable":true},"deletionGracePeriodSeconds":{"type":"integer","format":"int64"},
          "labels":{"type":"object","additionalProperties":{"type":"string"}},
          "annotations":{"type":"object","additionalProperties":{"type":"string"}},
          "ownerReferences":{"type":"array","items":{"type":"object","properties":{
            "apiVersion":{"type":"string"},"kind":{"type":"string"},"name":{"type":"string"},"uid":{"type":"string"},
            "controller":{"type":"boolean"},"blockOwnerDeletion":{"type":"boolean"}}}},
          "finalizers":{"type":"array","items":{"type":"string"}},
          "managedFields":{"type":"array","items":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}
        """;

    private const string ObjectReference = """
        {"type":"object","properties":{"apiVersion":{"type":"string"},"kind":{"type":"string"},"name":{"type":"string"},
          "namespace":{"type":"string"},"uid":{"type":"string"},"resourceVersion":{"type":"string"},"fieldPath":{"type":"string"}}}
        """;

    private const string EventSource = """{"type":"object","properties":{"component":{"type":"string"},"host":{"type":"string"}}}""";

    private const string EventSeriesCore = """{"type":"object","properties":{"count":{"type":"integer"},"lastObservedTime":{"type":"string"}}}""";

    public static readonly JsonElement Namespace = Build("""
        "spec":{"type":"object","properties":{"finalizers":{"type":"array","items":{"type":"string"}}}},
        "status":{"type":"object","properties":{"phase":{"type":"string"},
          "conditions":{"type":"array","items":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}
        """);

    public static readonly JsonElement Secret = Build("""
        "data":{"type":"object","additionalProperties":{"type":"string","format":"byte"}},
        "stringData":{"type":"object","additionalProperties":{"type":"string"}},
        "type":{"type":"string"},"immutable":{"type":"boolean"}
        """);

    public static readonly JsonElement ConfigMap = Build("""
        "data":{"type":"object","additionalProperties":{"type":"string"}},
        "binaryData":{"type":"object","additionalProperties":{"type":"string","format":"byte"}},
        "immutable":{"type":"boolean"}
        """);

    public static readonly JsonElement Event = Build($$$"""
        "involvedObject":{{{ObjectReference}}},"reason":{"type":"string"},"message":{"type":"string"},
        "source":{{{EventSource}}},"firstTimestamp":{"type":"string","nullable":true},"lastTimestamp":{"type":"string","nullable":true},
        "count":{"type":"integer"},"type":{"type":"string"},"eventTime":{"type":"string","nullable":true},
        "series":{{{EventSeriesCore}}},"action":{"type":"string"},"related":{{{ObjectReference}}},
        "reportingComponent":{"type":"string"},"reportingInstance":{"type":"string"}
        """);

    public static readonly JsonElement EventV1 = Build($$$"""
        "eventTime":{"type":"string","nullable":true},"series":{{{EventSeriesCore}}},
        "reportingController":{"type":"string"},"reportingInstance":{"type":"string"},"action":{"type":"string"},
        "reason":{"type":"string"},"regarding":{{{ObjectReference}}},"related":{{{ObjectReference}}},"note":{"type":"string"},
        "type":{"type":"string"},"deprecatedSource":{{{EventSource}}},"deprecatedFirstTimestamp":{"type":"string","nullable":true},
        "deprecatedLastTimestamp":{"type":"string","nullable":true},"deprecatedCount":{"type":"integer"}
        """);

    public static readonly JsonElement Lease = Build("""
        "spec":{"type":"object","properties":{"holderIdentity":{"type":"string","nullable":true},
          "leaseDurationSeconds":{"type":"integer","nullable":true},"acquireTime":{"type":"string","nullable":true},
          "renewTime":{"type":"string","nullable":true},"leaseTransitions":{"type":"integer","nullable":true},
          "strategy":{"type":"string","nullable":true},"preferredHolder":{"type":"string","nullable":true}}}
        """);

    public static readonly JsonElement CustomResourceDefinition = Build("""
        "spec":{"type":"object","properties":{
          "group":{"type":"string"},"scope":{"type":"string"},"preserveUnknownFields":{"type":"boolean"},
          "names":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
          "conversion":{"type":"object","x-kubernetes-preserve-unknown-fields":true},
          "versions":{"type":"array","items":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}},
        "status":{"type":"object","x-kubernetes-preserve-unknown-fields":true}
        """);

    private static JsonElement Build(string properties)
    {
        var json = $$$"""
            {"type":"object","properties":{"apiVersion":{"type":"string"},"kind":{"type":"string"},
            "metadata":{{{ObjectMetaJson}}},{{{properties}}}}}
            """;
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
