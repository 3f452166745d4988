namespace VirtualKeys.Model;

/// <summary>The name rules of Kubernetes that the schema and the validator both enforce.</summary>
internal static class NamePatterns
{
    /// <summary>A DNS-1123 subdomain, the rule for Secret names (at most 253 characters).</summary>
    public const string Dns1123Subdomain = @"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

    public const int Dns1123SubdomainMaxLength = 253;

    /// <summary>A DNS-1123 label (at most 63 characters): safe in metrics labels, paths and log fields.</summary>
    public const string Dns1123Label = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

    public const int Dns1123LabelMaxLength = 63;

    /// <summary>The rule for the keys of a Secret's data.</summary>
    public const string SecretDataKey = "^[-._a-zA-Z0-9]+$";

    public const int SecretDataKeyMaxLength = 253;

    /// <summary>Model names are the provider's own; only length and control characters are limited.</summary>
    public const int ModelNameMaxLength = 256;

    /// <summary>Azure OpenAI's <c>api-version</c>: a date, optionally with <c>-preview</c>.</summary>
    public const string AzureApiVersion = "^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$";

    public const int UrlMaxLength = 2048;
}
