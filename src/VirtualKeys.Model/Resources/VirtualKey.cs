using System.Text.Json.Serialization;
using k8s;
using k8s.Models;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Model;

/// <summary>
/// A virtual key for LLM providers: the provider keys (in Secrets) that stand behind it, its model
/// defaults, rate limits and budget. The operator issues the key's token into a Secret and reports
/// usage and spend in status.
/// </summary>
[KubernetesEntity(Group = WellKnown.Group, ApiVersion = WellKnown.Version, Kind = WellKnown.Kind, PluralName = WellKnown.Plural)]
[ResourceNames(WellKnown.Singular, ShortNames = [WellKnown.ShortName], Categories = [WellKnown.Category])]
[PrinterColumn(0, "Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status")]
[PrinterColumn(1, "Default Model", "string", ".spec.defaultModel")]
[PrinterColumn(2, "RPM", "integer", ".spec.limits.requestsPerMinute")]
[PrinterColumn(3, "TPM", "integer", ".spec.limits.tokensPerMinute")]
[PrinterColumn(4, "Spend", "string", ".status.usage.costUsd")]
[PrinterColumn(5, "Budget", "string", ".spec.budget.maxCostUsd")]
[PrinterColumn(6, "Requests", "integer", ".status.usage.requests")]
[PrinterColumn(7, "Age", "date", ".metadata.creationTimestamp")]
public sealed class VirtualKey : IKubernetesObject<V1ObjectMeta>, ISpec<VirtualKeySpec>, IStatus<VirtualKeyStatus?>
{
    /// <summary>The API group and version this object is written in: aigateway.dev/v1alpha1.</summary>
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = WellKnown.ApiVersion;

    /// <summary>The type of this object: VirtualKey.</summary>
    [JsonPropertyName("kind")]
    public string Kind { get; set; } = WellKnown.Kind;

    /// <summary>The object's name, namespace, labels and annotations (see the rotate-token annotation).</summary>
    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    /// <summary>The desired key: providers, models, limits and budget.</summary>
    [Required]
    [JsonPropertyName("spec")]
    public VirtualKeySpec Spec { get; set; } = new();

    /// <summary>What the operator observed: readiness, the issued key and usage in the current budget period.</summary>
    [JsonPropertyName("status")]
    public VirtualKeyStatus? Status { get; set; }

    /// <summary>
    /// The name of the Secret that holds the key's token: <c>spec.tokenSecretName</c>, or the
    /// resource's name followed by <c>-token</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Neither is set (an object not yet named by the API server).</exception>
    public string GetTokenSecretName()
    {
        if (!string.IsNullOrEmpty(Spec?.TokenSecretName))
        {
            return Spec.TokenSecretName;
        }

        return string.IsNullOrEmpty(Metadata?.Name)
            ? throw new InvalidOperationException("The VirtualKey has neither spec.tokenSecretName nor metadata.name, so its token Secret has no name.")
            : Metadata.Name + WellKnown.TokenSecretNameSuffix;
    }
}
