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

    /// <summary>
    /// The client left <c>include_usage</c> open: no <c>stream_options</c>, <c>null</c>, or an object
    /// without it. An object that sets it (either way), or a value that is no object, is left as sent.
    /// </summary>
    public bool CanAddStreamUsage { get; init; }

    /// <summary>
    /// Where <c>include_usage</c> goes when the property is there: the byte range of a <c>null</c>
    /// value, to be replaced, or the empty range just inside an object's brace; both 0 when absent.
    /// </summary>
    public int StreamOptionsStart { get; init; }

    public int StreamOptionsEnd { get; init; }

    /// <summary><c>stream_options</c> is an object; <see cref="StreamOptionsHasProperties"/> says whether it is empty.</summary>
    public bool StreamOptionsIsObject { get; init; }

    public bool StreamOptionsHasProperties { get; init; }

    public long? MaxOutputTokens { get; init; }

    /// <summary>Bytes of base64 files (images and other files; not PDFs, counted as text) inside the body, and how many there are.</summary>
    public long EmbeddedBytes { get; init; }

    public int EmbeddedItems { get; init; }
}
