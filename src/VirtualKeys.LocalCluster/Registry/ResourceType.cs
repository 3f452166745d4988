using System.Text.Json;
using VirtualKeys.LocalCluster.Conversion;

namespace VirtualKeys.LocalCluster.Registry;

/// <summary>
/// One served group/version/resource. Several may share a storage bucket (the versions of a
/// CRD; core and events.k8s.io Events), keyed by <see cref="StorageKey"/>.
/// </summary>
internal sealed class ResourceType
{
    public required string Group { get; init; }

    public required string Version { get; init; }

    public required string Plural { get; init; }

    public required string Singular { get; init; }

    public required string Kind { get; init; }

    public required string ListKind { get; init; }

    public required bool Namespaced { get; init; }

    public required ResourceStrategy Strategy { get; init; }

    public required string StorageKey { get; init; }

    /// <summary>The apiVersion objects carry in storage; reads at another version are rewritten.</summary>
    public required string StorageApiVersion { get; init; }

    public IReadOnlyList<string> ShortNames { get; init; } = [];

    public IReadOnlyList<string> Categories { get; init; } = [];

    public IReadOnlyList<string> Verbs { get; init; } = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    public bool HasStatusSubresource { get; init; }

    public ScaleSubresource? Scale { get; init; }

    /// <summary>The structural schema used for pruning, defaulting, validation and OpenAPI.</summary>
    public JsonElement? Schema { get; init; }

    public IReadOnlyList<PrinterColumn> PrinterColumns { get; init; } = [];

    /// <summary>Field selector paths beyond metadata.name and metadata.namespace.</summary>
    public IReadOnlyList<string> SelectableFields { get; init; } = [];

    public bool TracksGeneration { get; init; }

    public bool AllowUnconditionalUpdate { get; init; } = true;

    public bool AllowCreateOnUpdate { get; init; }

    public IObjectConverter? Converter { get; init; }

    /// <summary>Set for custom resources: the CRD that declares them.</summary>
    public string? CrdName { get; init; }

    public bool IsCustom => Strategy == ResourceStrategy.Custom;

    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    public string GroupVersion => ApiVersion;

    /// <summary>"secrets" or "virtualkeys.aigateway.dev", as error messages name a resource.</summary>
    public string GroupResource => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    /// <summary>"Secret" or "VirtualKey.aigateway.dev", as Invalid messages name a kind.</summary>
    public string QualifiedKind => Group.Length == 0 ? Kind : $"{Kind}.{Group}";

    /// <summary>True when stored bytes can be served as they are, with no rewrite.</summary>
    public bool ServesStorageForm => Converter is null && StorageApiVersion == ApiVersion;
}
