using System.Text.Json;
using System.Text.Json.Nodes;

namespace VirtualKeys.LocalCluster.Storage;

/// <summary>
/// An immutable snapshot of one object as committed. The serialized bytes are kept so that a
/// list of 10,000 objects or a watch event fanned out to many watchers is a copy, not a
/// re-serialisation; the fields selectors and the garbage collector need are lifted out once.
/// </summary>
internal sealed class StoredObject
{
    private JsonElement? _element;

    public StoredObject(string storageKey, JsonObject node, long resourceVersion)
    {
        StorageKey = storageKey;
        ResourceVersion = resourceVersion;
        var metadata = node["metadata"] as JsonObject ?? [];
        Namespace = (string?)metadata["namespace"] ?? "";
        Name = (string?)metadata["name"] ?? "";
        Uid = (string?)metadata["uid"] ?? "";
        IsDeleting = metadata["deletionTimestamp"] is JsonValue;
        Labels = metadata["labels"] is JsonObject labels
            ? labels.Where(p => p.Value is JsonValue).ToDictionary(p => p.Key, p => p.Value!.ToString(), StringComparer.Ordinal)
            : Empty;
        Finalizers = metadata["finalizers"] is JsonArray finalizers
            ? finalizers.Select(f => f?.ToString() ?? "").ToArray()
            : [];
        Owners = metadata["ownerReferences"] is JsonArray owners
            ? owners.OfType<JsonObject>()
                .Select(o => new OwnerReference(
                    (string?)o["uid"] ?? "",
                    (string?)o["kind"] ?? "",
                    (string?)o["name"] ?? "",
                    o["blockOwnerDeletion"] is JsonValue b && b.GetValueKind() == JsonValueKind.True))
                .ToArray()
            : [];
        Json = JsonSerializer.SerializeToUtf8Bytes(node);
    }

    private static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();

    public string StorageKey { get; }

    public string Namespace { get; }

    public string Name { get; }

    public string Uid { get; }

    public long ResourceVersion { get; }

    public bool IsDeleting { get; }

    public IReadOnlyDictionary<string, string> Labels { get; }

    public IReadOnlyList<string> Finalizers { get; }

    public IReadOnlyList<OwnerReference> Owners { get; }

    /// <summary>The object as served at its storage version, metadata.resourceVersion included.</summary>
    public byte[] Json { get; }

    public string Key => Namespace.Length == 0 ? Name : Namespace + "/" + Name;

    /// <summary>A read-only view for field selectors and table columns; parsed on first use.</summary>
    public JsonElement Element => _element ??= JsonSerializer.Deserialize<JsonElement>(Json);

    /// <summary>A private, mutable copy to build the next version from.</summary>
    public JsonObject ToNode() => JsonNode.Parse(Json)!.AsObject();
}
