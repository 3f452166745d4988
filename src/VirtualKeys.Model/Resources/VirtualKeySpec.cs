using System.Text.Json.Serialization;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Model;

/// <summary>The desired state of a virtual key.</summary>
public sealed class VirtualKeySpec
{
    /// <summary>
    /// The real provider keys behind this virtual key. Requests go to the providers of the lowest
    /// priority that serve the model, shared by weight; the next priority takes over when those fail.
    /// </summary>
    [Required]
    [Items(MinItems = 1, MaxItems = 32)]
    [ListMap("name")]
    [JsonPropertyName("providers")]
    public IList<ProviderSpec> Providers { get; set; } = [];

    /// <summary>
    /// The model used when a request names none, e.g. gpt-4o-mini. It may be an alias from modelAliases.
    /// </summary>
    [Length(MinLength = 1, MaxLength = NamePatterns.ModelNameMaxLength)]
    [JsonPropertyName("defaultModel")]
    public string? DefaultModel { get; set; }

    /// <summary>
    /// The only models that requests may use, after aliases are resolved. Empty or omitted allows every
    /// model that a provider serves.
    /// </summary>
    [Items(MaxItems = 256)]
    [JsonPropertyName("allowedModels")]
    public IList<string>? AllowedModels { get; set; }

    /// <summary>
    /// Names that requests may use in place of a model, e.g. fast: gpt-4o-mini. An alias points at a
    /// model, never at another alias.
    /// </summary>
    [JsonPropertyName("modelAliases")]
    public IDictionary<string, string>? ModelAliases { get; set; }

    /// <summary>Rate limits, enforced across all sidecar replicas. Omitted limits do not apply.</summary>
    [JsonPropertyName("limits")]
    public RateLimits? Limits { get; set; }

    /// <summary>A cap on spending per period. Omitted means no cap (usage is still metered).</summary>
    [JsonPropertyName("budget")]
    public BudgetSpec? Budget { get; set; }

    /// <summary>
    /// When the key stops working (RFC 3339, e.g. 2026-01-31T00:00:00Z). Omitted means never. Moved
    /// earlier, it takes effect even while the rest of the spec cannot be registered (a provider
    /// Secret missing, an invalid field); moved later or removed, it waits until the spec can be.
    /// </summary>
    [JsonPropertyName("expiresAt")]
    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>
    /// Refuses every request while true, without deleting the key or its token. It takes effect even
    /// while the rest of the spec cannot be registered (a provider Secret missing, an invalid field);
    /// setting it back to false waits until the spec can be.
    /// </summary>
    [Default(false)]
    [JsonPropertyName("suspended")]
    public bool Suspended { get; set; }

    /// <summary>
    /// The Secret, in the same namespace, into which the operator writes the key's token (data key
    /// token). Defaults to the VirtualKey's name followed by -token. It must not be a provider Secret.
    /// Changed, a new token is issued into the new Secret, once, and the previous Secret's token is
    /// refused after the rotation grace.
    /// </summary>
    [Length(MaxLength = NamePatterns.Dns1123SubdomainMaxLength)]
    [Pattern(NamePatterns.Dns1123Subdomain)]
    [JsonPropertyName("tokenSecretName")]
    public string? TokenSecretName { get; set; }

    /// <summary>
    /// The model a request for <paramref name="requestedModel"/> is served with: the requested model, or
    /// <see cref="DefaultModel"/> when it is null or empty, then replaced by its alias target if it is an alias.
    /// Null when the request names no model and there is no default.
    /// </summary>
    public string? ResolveModel(string? requestedModel)
    {
        var model = string.IsNullOrEmpty(requestedModel) ? DefaultModel : requestedModel;
        if (string.IsNullOrEmpty(model))
        {
            return null;
        }

        return ModelAliases is not null && ModelAliases.TryGetValue(model, out var target) ? target : model;
    }

    /// <summary>
    /// Whether <see cref="AllowedModels"/> admits a resolved model name (ordinal comparison: provider model
    /// names are case-sensitive).
    /// </summary>
    public bool IsModelAllowed(string model) =>
        AllowedModels is null || AllowedModels.Count == 0 || AllowedModels.Contains(model, StringComparer.Ordinal);
}
