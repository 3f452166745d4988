namespace VirtualKeys.Sidecar.Resolve;

/// <summary>Where and how to call one provider. Carries the real credential: never log it.</summary>
public sealed class ProviderInfo
{
    public required string Name { get; init; }

    /// <summary>One of OpenAI, AzureOpenAI, Anthropic, Gemini, OpenAICompatible.</summary>
    public required string Type { get; init; }

    /// <summary>
    /// Append the API path to this: <c>/chat/completions</c> for OpenAI-shaped providers (the URL
    /// already ends in the API version, e.g. <c>…/v1</c>), <c>/v1/messages</c> for Anthropic. For
    /// AzureOpenAI it is the deployment URL (<c>…/openai/deployments/&lt;model&gt;</c>) and
    /// <see cref="ApiVersion"/> goes into the <c>api-version</c> query parameter.
    /// </summary>
    public required string BaseUrl { get; init; }

    public required string Credential { get; init; }

    /// <summary>The exact headers to send, authentication included.</summary>
    public required IReadOnlyDictionary<string, string> AuthHeaders { get; init; }

    public string? ApiVersion { get; init; }

    public override string ToString() => $"{Name} ({Type})";
}
