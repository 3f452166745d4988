namespace VirtualKeys.Reliability.Tests.BadInput.SidecarRequests;

internal enum ExpectedAnswer
{
    /// <summary>A 4xx with an OpenAI-shaped JSON error (type, code, message).</summary>
    JsonError,

    /// <summary>
    /// A 4xx Kestrel decides itself: the request is broken at the HTTP framing level (request line,
    /// header syntax, header sizes), so it never reaches the sidecar's middleware. Kestrel writes it
    /// without a body; the sidecar's connection middleware adds the same JSON error body.
    /// </summary>
    FramingError,

    /// <summary>A slow client: a 4xx with a JSON error, or the connection closed, in bounded time.</summary>
    ErrorOrClose,
}
