namespace VirtualKeys.Model;

/// <summary>The API dialect a provider speaks, which decides request shape, auth header and cost table.</summary>
public enum ProviderType
{
    OpenAI,
    AzureOpenAI,
    Anthropic,
    Gemini,

    /// <summary>Any server that speaks the OpenAI API (vLLM, Ollama, LiteLLM, a local mock); needs a base URL.</summary>
    OpenAICompatible,
}
