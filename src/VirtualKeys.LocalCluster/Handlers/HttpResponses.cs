using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using VirtualKeys.LocalCluster.Api;
using VirtualKeys.LocalCluster.Registry;

namespace VirtualKeys.LocalCluster.Handlers;

internal static class HttpResponses
{
    public static Task WriteJsonAsync(HttpContext context, int code, JsonNode node) =>
        WriteBytesAsync(context, code, JsonSerializer.SerializeToUtf8Bytes(node));

    public static async Task WriteBytesAsync(HttpContext context, int code, byte[] body)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }

    public static void AddWarnings(HttpContext context, IEnumerable<string> warnings)
    {
        foreach (var warning in warnings)
        {
            context.Response.Headers.Append("Warning", $"299 - \"{warning.Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
        }
    }

    /// <summary>Streams a list without building it as one tree: the stored bytes of each item are copied as they are.</summary>
    public static async Task WriteListAsync(HttpContext context, ResourceType type, ListResult list)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        var writer = context.Response.BodyWriter;
        var header = new JsonObject
        {
            ["resourceVersion"] = list.ResourceVersion.ToString(CultureInfo.InvariantCulture),
        };
        if (list.Continue is not null)
        {
            header["continue"] = list.Continue;
        }

        if (list.RemainingItemCount is not null)
        {
            header["remainingItemCount"] = list.RemainingItemCount;
        }

        Write(writer, $"{{\"kind\":\"{type.ListKind}\",\"apiVersion\":\"{type.ApiVersion}\",\"metadata\":{header.ToJsonString()},\"items\":[");
        var pending = 0;
        for (var i = 0; i < list.Items.Count; i++)
        {
            if (i > 0)
            {
                Write(writer, ",");
            }

            var bytes = ObjectRenderer.Render(type, list.Items[i]);
            writer.Write(bytes);
            pending += bytes.Length;
            if (pending > 256 * 1024)
            {
                await writer.FlushAsync(context.RequestAborted);
                pending = 0;
            }
        }

        Write(writer, "]}");
        await writer.FlushAsync(context.RequestAborted);
    }

    private static void Write(System.IO.Pipelines.PipeWriter writer, string text) =>
        writer.Write(System.Text.Encoding.UTF8.GetBytes(text));
}
