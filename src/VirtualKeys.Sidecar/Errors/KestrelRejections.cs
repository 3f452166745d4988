using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using System.Text.Json;
using VirtualKeys.Sidecar.Serialization;

namespace VirtualKeys.Sidecar.Errors;

/// <summary>
/// The answers Kestrel writes itself, before any middleware runs, to a request it cannot parse as
/// HTTP/1.1 (a broken request line or header, a request target or headers too large, a request whose
/// headers never finish): a 4xx head with <c>Content-Length: 0</c> and <c>Connection: close</c>, and
/// no way to give it a body (https://github.com/aspnet/KestrelHttpServer/issues/2947). This turns such
/// a head into the same head with the sidecar's JSON error body, so every refusal a client gets is
/// one it can parse. <see cref="Hosting.RejectionBodyWriter"/> applies it only to writes made while
/// no request is in the application.
/// </summary>
internal static class KestrelRejections
{
    private static readonly FrozenDictionary<int, byte[]> Bodies = new Dictionary<int, byte[]>
    {
        [400] = Body("malformed_http", "The request is not well-formed HTTP/1.1: its request line, a header or its framing was refused before it reached the sidecar."),
        [408] = Body("request_timeout", "The request's headers did not arrive in time."),
        [411] = Body("length_required", "The request has a body but no Content-Length or chunked Transfer-Encoding."),
        [413] = Body("request_too_large", "The request is larger than the sidecar accepts."),
        [414] = Body("uri_too_long", "The request target is too long."),
        [431] = Body("headers_too_large", "The request headers are too large or too many."),
        [505] = Body("http_version_not_supported", "The request names an HTTP version this endpoint does not serve; use HTTP/1.1."),
    }.ToFrozenDictionary();

    private static readonly byte[] Other = Body("malformed_http", "The request was refused before it reached the sidecar.");

    /// <summary>
    /// When <paramref name="written"/> ends with one such head (after any earlier output Kestrel wrote
    /// in the same piece), where the head starts and what to send from there instead: the same status
    /// line and headers, with the JSON body's type and length, then the body.
    /// </summary>
    public static bool TryRewriteTail(ReadOnlySpan<byte> written, out int headStart, out byte[] replacement)
    {
        replacement = [];
        headStart = written.LastIndexOf("HTTP/1.1 "u8);
        if (headStart < 0)
        {
            return false;
        }

        var head = written[headStart..];
        if (head.Length < 16
            || !(head[9] == (byte)'4' || head.StartsWith("HTTP/1.1 505"u8))
            || !head.EndsWith("\r\n\r\n"u8)
            || head.IndexOf("\r\n\r\n"u8) != head.Length - 4
            || head.IndexOf("\r\nContent-Length: 0\r\n"u8) < 0
            || head.IndexOf("\r\nConnection: close\r\n"u8) < 0
            || head.IndexOf("\r\nContent-Type:"u8) >= 0
            || !int.TryParse(head.Slice(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            return false;
        }

        var body = Bodies.GetValueOrDefault(status, Other);
        var text = Encoding.ASCII.GetString(head[..^2]).Replace("\r\nContent-Length: 0\r\n", "\r\n", StringComparison.Ordinal);
        var extra = $"Content-Type: application/json\r\nContent-Length: {body.Length.ToString(CultureInfo.InvariantCulture)}\r\n\r\n";
        replacement = [.. Encoding.ASCII.GetBytes(text + extra), .. body];
        return true;
    }

    private static byte[] Body(string code, string message) =>
        JsonSerializer.SerializeToUtf8Bytes(
            new ErrorResponse { Error = new ErrorDetail { Type = Refusals.InvalidRequest, Code = code, Message = message } },
            SidecarJsonContext.Default.ErrorResponse);
}
