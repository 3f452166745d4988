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
/// one it can parse.
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
    }.ToFrozenDictionary();

    private static readonly byte[] Other = Body("malformed_http", "The request was refused before it reached the sidecar.");

    /// <summary>
    /// When <paramref name="written"/> is exactly one such head, the head to send instead: the same
    /// status line and headers, with the JSON body's type and length, then the body.
    /// </summary>
    public static bool TryRewrite(ReadOnlySpan<byte> written, out byte[] replacement)
    {
        replacement = [];
        if (written.Length < 16
            || !written.StartsWith("HTTP/1.1 4"u8)
            || !written.EndsWith("\r\n\r\n"u8)
            || written.IndexOf("\r\nContent-Length: 0\r\n"u8) < 0
            || written.IndexOf("\r\nConnection: close\r\n"u8) < 0
            || written.IndexOf("\r\nContent-Type:"u8) >= 0
            || !int.TryParse(written.Slice(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            return false;
        }

        var body = Bodies.GetValueOrDefault(status, Other);
        var head = Encoding.ASCII.GetString(written[..^2]).Replace("\r\nContent-Length: 0\r\n", "\r\n", StringComparison.Ordinal);
        var extra = $"Content-Type: application/json\r\nContent-Length: {body.Length.ToString(CultureInfo.InvariantCulture)}\r\n\r\n";
        replacement = [.. Encoding.ASCII.GetBytes(head + extra), .. body];
        return true;
    }

    private static byte[] Body(string code, string message) =>
        JsonSerializer.SerializeToUtf8Bytes(
            new ErrorResponse { Error = new ErrorDetail { Type = Refusals.InvalidRequest, Code = code, Message = message } },
            SidecarJsonContext.Default.ErrorResponse);
}
