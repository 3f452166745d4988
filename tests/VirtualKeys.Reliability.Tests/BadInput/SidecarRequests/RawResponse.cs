namespace VirtualKeys.Reliability.Tests.BadInput.SidecarRequests;

/// <summary>What came back on the socket: a parsed HTTP response, or a close without one.</summary>
/// <param name="Status">Null when the server closed the connection without answering.</param>
internal sealed record RawResponse(int? Status, IReadOnlyDictionary<string, string> Headers, string Body, TimeSpan Elapsed)
{
    public bool Closed => Status is null;

    public string? ContentType => Headers.TryGetValue("content-type", out var value) ? value : null;

    public override string ToString() => Closed ? $"closed after {Elapsed.TotalSeconds:0.0}s" : $"{Status} {ContentType} {Body}";
}
