namespace VirtualKeys.Sidecar.Proxy;

/// <summary>What the proxy needs from a request body, with byte offsets for rewriting it in place.</summary>
internal readonly record struct ProxyRequestInfo
{
    public string? Error { get; init; }

    /// <summary>Offset just after the opening brace: where inserted properties go.</summary>
    public int ObjectStart { get; init; }

    public bool HasProperties { get; init; }

    public string? Model { get; init; }

    /// <summary>Byte range of the model value (string or null) when the property is present; -1 otherwise.</summary>
    public int ModelStart { get; init; }

    public int ModelEnd { get; init; }

    public bool Stream { get; init; }

    public bool HasStreamOptions { get; init; }

    /// <summary>Byte range of a <c>"stream_options": null</c> value, to be replaced rather than repeated; empty otherwise.</summary>
    public int NullStreamOptionsStart { get; init; }

    public int NullStreamOptionsEnd { get; init; }

    public long? MaxOutputTokens { get; init; }
}
