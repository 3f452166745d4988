namespace VirtualKeys.Sidecar.Proxy;

internal sealed class ProxyRoute
{
    private ProxyRoute(int index, string path, ApiFamily family, string upstreamSuffix, bool producesOutput, bool acceptsStreamOptions)
    {
        Index = index;
        Path = path;
        Family = family;
        UpstreamSuffix = upstreamSuffix;
        ProducesOutput = producesOutput;
        AcceptsStreamOptions = acceptsStreamOptions;
    }

    public static ProxyRoute ChatCompletions { get; } = new(0, "/v1/chat/completions", ApiFamily.OpenAI, "/chat/completions", true, true);

    public static ProxyRoute Completions { get; } = new(1, "/v1/completions", ApiFamily.OpenAI, "/completions", true, true);

    public static ProxyRoute Embeddings { get; } = new(2, "/v1/embeddings", ApiFamily.OpenAI, "/embeddings", false, false);

    public static ProxyRoute Responses { get; } = new(3, "/v1/responses", ApiFamily.OpenAI, "/responses", true, false);

    public static ProxyRoute AnthropicMessages { get; } = new(4, "/v1/messages", ApiFamily.Anthropic, "/v1/messages", true, false);

    public static IReadOnlyList<ProxyRoute> All { get; } = [ChatCompletions, Completions, Embeddings, Responses, AnthropicMessages];

    public int Index { get; }

    public string Path { get; }

    public ApiFamily Family { get; }

    /// <summary>Appended to the provider's base URL (which ends in the API version for OpenAI-shaped providers).</summary>
    public string UpstreamSuffix { get; }

    /// <summary>Embeddings produce no output tokens, so nothing is reserved for them.</summary>
    public bool ProducesOutput { get; }

    /// <summary>Chat and legacy completions stream usage only when asked with <c>stream_options.include_usage</c>.</summary>
    public bool AcceptsStreamOptions { get; }
}
