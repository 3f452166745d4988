using Microsoft.AspNetCore.Http;

namespace VirtualKeys.Sidecar.OpenApi;

/// <summary>
/// Serves the sidecar's API description (<c>GET /openapi.json</c>). It is a hand-written document
/// shipped in the assembly rather than generated: the endpoints are plain request delegates with no
/// model binding on the hot path, so there is nothing for a generator to read. A test checks that
/// every route the sidecar maps is described here.
/// </summary>
public static class SidecarOpenApiDocument
{
    private const string ResourceName = "VirtualKeys.Sidecar.OpenApi.openapi.json";

    private static readonly Lazy<byte[]> Document = new(Load);

    public static ReadOnlyMemory<byte> Utf8Json => Document.Value;

    public static Task WriteAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        return context.Response.Body.WriteAsync(Document.Value, context.RequestAborted).AsTask();
    }

    private static byte[] Load()
    {
        using var stream = typeof(SidecarOpenApiDocument).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"{ResourceName} is not embedded in the sidecar assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
