using System.Text.Json.Serialization;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Model;

/// <summary>An entry of a Secret in the VirtualKey's namespace.</summary>
public sealed class SecretKeyRef
{
    /// <summary>The Secret's name.</summary>
    [Required]
    [Length(MinLength = 1, MaxLength = NamePatterns.Dns1123SubdomainMaxLength)]
    [Pattern(NamePatterns.Dns1123Subdomain)]
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    /// <summary>The key within the Secret's data, e.g. apiKey.</summary>
    [Required]
    [Length(MinLength = 1, MaxLength = NamePatterns.SecretDataKeyMaxLength)]
    [Pattern(NamePatterns.SecretDataKey)]
    [JsonPropertyName("key")]
    public string Key { get; set; } = "";
}
