namespace VirtualKeys.Registry.Keys;

/// <summary>A raw provider API key for one provider of a virtual key.</summary>
/// <remarks>ToString hides the secret: records print every member otherwise, and these end up in logs.</remarks>
public sealed record ProviderCredential(string ProviderName, string Secret)
{
    public override string ToString() => $"ProviderCredential {{ ProviderName = {ProviderName}, Secret = *** }}";
}
