using System.Buffers;
using System.Text.Json;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// Splices the effective model (and, when asked, <c>stream_options.include_usage</c>) into the client's JSON by
/// byte offsets: the rest of the body is copied untouched, never re-serialized.
/// </summary>
internal static class ProxyBodyRewriter
{
    private static ReadOnlySpan<byte> ModelProperty => "\"model\":"u8;

    private static ReadOnlySpan<byte> StreamUsageProperty => "\"stream_options\":{\"include_usage\":true}"u8;

    private static ReadOnlySpan<byte> StreamUsageValue => "{\"include_usage\":true}"u8;

    private static ReadOnlySpan<byte> IncludeUsageProperty => "\"include_usage\":true"u8;

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

        // Properties the body lacks go first; values it has (a model, a null stream_options) are
        // replaced where they stand, and an options object gets include_usage inside its brace, so
        // that no property ever appears twice.
        var modelInPlace = replaceModel && info.ModelStart >= 0;
        var streamUsageInPlace = addStreamUsage && (info.StreamOptionsIsObject || info.StreamOptionsEnd > info.StreamOptionsStart);
        Append(body[..info.ObjectStart]);
        var inserted = false;
        if (replaceModel && !modelInPlace)
        {
            Append(ModelProperty);
            AppendString(encoded);
            inserted = true;
        }

        if (addStreamUsage && !streamUsageInPlace)
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

        // At most two edits inside the body, copied in the order they appear.
        var position = info.ObjectStart;
        var modelFirst = !streamUsageInPlace || (modelInPlace && info.ModelStart < info.StreamOptionsStart);
        for (var pass = 0; pass < 2; pass++)
        {
            var isModel = (pass == 0) == modelFirst;
            if (isModel && modelInPlace)
            {
                Append(body[position..info.ModelStart]);
                AppendString(encoded);
                position = info.ModelEnd;
            }
            else if (!isModel && streamUsageInPlace)
            {
                Append(body[position..info.StreamOptionsStart]);
                if (info.StreamOptionsIsObject)
                {
                    Append(IncludeUsageProperty);
                    if (info.StreamOptionsHasProperties)
                    {
                        Append(","u8);
                    }
                }
                else
                {
                    Append(StreamUsageValue);
                }

                position = info.StreamOptionsEnd;
            }
        }

        Append(body[position..]);
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
