namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>The wire protocol and authentication scheme of an upstream provider.</summary>
public enum ProviderType
{
    OpenAI,
    AzureOpenAI,
    Anthropic,
    Gemini,
    OpenAICompatible,
}
