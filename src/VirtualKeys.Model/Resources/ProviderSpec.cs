using System.Text.Json.Serialization;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Model;

/// <summary>One real provider key behind a virtual key.</summary>
public sealed class ProviderSpec
{
    /// <summary>Identifies the provider within this key, in routing decisions, metrics and status messages.</summary>
    [Required]
    [Length(MinLength = 1, MaxLength = NamePatterns.Dns1123LabelMaxLength)]
    [Pattern(NamePatterns.Dns1123Label)]
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    /// <summary>The provider's API: OpenAI, AzureOpenAI, Anthropic, Gemini or OpenAICompatible.</summary>
    [Required]
    [JsonPropertyName("type")]
    public ProviderType Type { get; set; }

    /// <summary>
    /// The API's base URL (absolute http or https, without credentials). Required for AzureOpenAI (the
    /// resource endpoint, e.g. https://NAME.openai.azure.com) and OpenAICompatible (e.g.
    /// http://127.0.0.1:8080/v1); the public endpoint of the provider when omitted.
    /// </summary>
    [Length(MaxLength = NamePatterns.UrlMaxLength)]
    [JsonPropertyName("baseUrl")]
    public string? BaseUrl { get; set; }

    /// <summary>
    /// AzureOpenAI only: the api-version query parameter, e.g. 2024-10-21 (the default). The Azure
    /// deployment name is the model name.
    /// </summary>
    [Pattern(NamePatterns.AzureApiVersion)]
    [JsonPropertyName("apiVersion")]
    public string? ApiVersion { get; set; }

    /// <summary>The Secret entry, in the same namespace, that holds the provider's API key.</summary>
    [Required]
    [JsonPropertyName("secretRef")]
    public SecretKeyRef SecretRef { get; set; } = new();

    /// <summary>The models this provider serves for the key. Omitted or empty means any model.</summary>
    [Items(MaxItems = 256)]
    [JsonPropertyName("models")]
    public IList<string>? Models { get; set; }

    /// <summary>
    /// The failover tier: requests go to the lowest priority that has a provider serving the model,
    /// and fall to the next tier only when those providers fail.
    /// </summary>
    [RangeMinimum(0)]
    [Default(0)]
    [JsonPropertyName("priority")]
    public int Priority { get; set; }

    /// <summary>This provider's share of requests among the providers of the same priority.</summary>
    [RangeMinimum(1)]
    [RangeMaximum(1000)]
    [Default(1)]
    [JsonPropertyName("weight")]
    public int Weight { get; set; } = 1;

    /// <summary>Whether this provider may serve a resolved model name (ordinal comparison).</summary>
    public bool Serves(string model) =>
        Models is null || Models.Count == 0 || Models.Contains(model, StringComparer.Ordinal);
}
