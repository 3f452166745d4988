using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using VirtualKeys.Sidecar.Errors;

namespace VirtualKeys.Sidecar.Serialization;

/// <summary>
/// Writes JSON bodies with a Content-Length (no chunked framing) from a per-thread buffer: one copy into
/// Kestrel's pipe, no allocation per response. Nothing is awaited, so the buffer is free again before
/// another request can run on this thread.
/// </summary>
internal static class JsonResponses
{
    private const int MaxRetainedBuffer = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _threadBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? _threadWriter;

    public static Task WriteAsync<T>(HttpResponse response, int status, T value, JsonTypeInfo<T> typeInfo)
    {
        var buffer = _threadBuffer ??= new ArrayBufferWriter<byte>(1024);
        var writer = _threadWriter ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        JsonSerializer.Serialize(writer, value, typeInfo);

        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        response.BodyWriter.Write(buffer.WrittenSpan);
        if (buffer.Capacity > MaxRetainedBuffer)
        {
            _threadBuffer = null;
            _threadWriter = null;
        }

        return Task.CompletedTask;
    }

    public static Task WriteErrorAsync(HttpContext context, in Refusal refusal, bool anthropicShape = false)
    {
        var response = context.Response;
        if (refusal.RetryAfter is { } retryAfter)
        {
            response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        var body = new ErrorResponse
        {
            Type = anthropicShape ? "error" : null,
            Error = new ErrorDetail { Type = refusal.Type, Code = refusal.Code, Message = refusal.Message, Param = refusal.Param },
        };
        return WriteAsync(response, refusal.Status, body, SidecarJsonContext.Default.ErrorResponse);
    }
}
