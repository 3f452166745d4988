using System.Buffers;
using System.Text.Json;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// Splices the effective model (and, when asked, <c>stream_options</c>) into the client's JSON by
/// byte offsets: the rest of the body is copied untouched, never re-serialized.
/// </summary>
internal static class ProxyBodyRewriter
{
    private static ReadOnlySpan<byte> ModelProperty => "\"model\":"u8;

    private static ReadOnlySpan<byte> StreamUsageProperty => "\"stream_options\":{\"include_usage\":true}"u8;

    /// <summary>Null when the body can go as it is; otherwise a pooled array the caller returns.</summary>
    public static byte[]? Rewrite(ReadOnlySpan<byte> body, in ProxyRequestInfo info, string model, bool addStreamUsage, out int length)
    {
        var replaceModel = !string.Equals(info.Model, model, StringComparison.Ordinal);
        if (!replaceModel && !addStreamUsage)
        {
            length = body.Length;
            return null;
        }

        var encoded = replaceModel ? JsonEncodedText.Encode(model).EncodedUtf8Bytes : default;
        var output = ArrayPool<byte>.Shared.Rent(body.Length + encoded.Length + ModelProperty.Length + StreamUsageProperty.Length + 8);
        var written = 0;

        Append(body[..info.ObjectStart]);
        var inserted = false;
        if (replaceModel && info.ModelStart < 0)
        {
            Append(ModelProperty);
            AppendString(encoded);
            inserted = true;
        }

        if (addStreamUsage)
        {
            if (inserted)
            {
                Append(","u8);
            }

            Append(StreamUsageProperty);
            inserted = true;
        }

        if (inserted && info.HasProperties)
        {
            Append(","u8);
        }

        if (replaceModel && info.ModelStart >= 0)
        {
            Append(body[info.ObjectStart..info.ModelStart]);
            AppendString(encoded);
            Append(body[info.ModelEnd..]);
        }
        else
        {
            Append(body[info.ObjectStart..]);
        }

        length = written;
        return output;

        void Append(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(output.AsSpan(written));
            written += bytes.Length;
        }

        void AppendString(ReadOnlySpan<byte> escaped)
        {
            output[written++] = (byte)'"';
            Append(escaped);
            output[written++] = (byte)'"';
        }
    }
}
