using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace VirtualKeys.Model;

/// <summary>What the API server returns when listing VirtualKeys.</summary>
[KubernetesEntity(Group = WellKnown.Group, ApiVersion = WellKnown.Version, Kind = WellKnown.ListKind, PluralName = WellKnown.Plural)]
public sealed class VirtualKeyList : IKubernetesObject<V1ListMeta>, IItems<VirtualKey>
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = WellKnown.ApiVersion;

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = WellKnown.ListKind;

    /// <summary>Carries the <c>resourceVersion</c> to start a watch from and the <c>continue</c> token of paged lists.</summary>
    [JsonPropertyName("metadata")]
    public V1ListMeta Metadata { get; set; } = new();

    [JsonPropertyName("items")]
    public IList<VirtualKey> Items { get; set; } = [];
}
