namespace VirtualKeys.Sidecar.Resolve;

/// <summary>Body of <c>POST /v1/resolve</c>. The token may come here or as <c>Authorization: Bearer</c>.</summary>
public sealed class ResolveRequest
{
    public string? VirtualKey { get; set; }

    /// <summary>Requested model or alias; absent or empty applies the key's default model.</summary>
    public string? Model { get; set; }

    public long? EstimatedInputTokens { get; set; }

    /// <summary>Reserved against TPM and budget until usage is reported; defaults to the sidecar's DefaultMaxOutputTokens.</summary>
    public long? MaxOutputTokens { get; set; }
}
