namespace VirtualKeys.Registry.Keys;

public enum ProviderType
{
    OpenAI,
    AzureOpenAI,
    Anthropic,
    Gemini,
    OpenAICompatible,
}
