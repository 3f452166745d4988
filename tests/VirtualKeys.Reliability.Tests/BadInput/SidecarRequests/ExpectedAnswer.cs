namespace VirtualKeys.Reliability.Tests.BadInput.SidecarRequests;

internal enum ExpectedAnswer
{
    /// <summary>A 4xx with an OpenAI-shaped JSON error (type, code, message).</summary>
    JsonError,

    /// <summary>
    /// A 4xx written by Kestrel itself: the request is broken at the HTTP framing level (request line,
    /// header syntax, header sizes), so it never reaches the sidecar's middleware and has no JSON body.
    /// </summary>
    FramingError,

    /// <summary>A slow client: a 4xx (JSON when the sidecar wrote it) or the connection closed, in bounded time.</summary>
    ErrorOrClose,
}
