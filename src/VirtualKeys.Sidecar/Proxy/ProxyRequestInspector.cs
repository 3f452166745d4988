using System.Text.Json;
using VirtualKeys.Sidecar.Metering;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// Reads the few top-level fields the proxy acts on without building a document. Properties the
/// proxy decides on must appear once: with two "model" fields the sidecar could check one while the
/// provider honours the other.
/// </summary>
internal static class ProxyRequestInspector
{
    /// <summary>Base64 strings shorter than this are counted as text: a file of under 1 KiB is no image worth a guess.</summary>
    public const int MinEmbeddedBytes = 1024;

    private static readonly System.Buffers.SearchValues<byte> Base64Bytes =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\\"u8);

    public static ProxyRequestInfo Inspect(ReadOnlySpan<byte> json)
    {
        try
        {
            return InspectCore(json);
        }
        catch (JsonException)
        {
            return new ProxyRequestInfo { Error = "The request body is not valid JSON." };
        }
    }

    private static ProxyRequestInfo InspectCore(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return new ProxyRequestInfo { Error = "The request body must be a JSON object." };
        }

        var objectStart = (int)reader.BytesConsumed;
        var hasProperties = false;
        string? model = null;
        int modelStart = -1, modelEnd = -1;
        var stream = false;
        var canAddStreamUsage = true;
        int streamOptionsStart = 0, streamOptionsEnd = 0;
        bool streamOptionsIsObject = false, streamOptionsHasProperties = false;
        long? maxTokens = null;
        long embeddedBytes = 0;
        var embeddedItems = 0;
        var seen = Seen.None;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            hasProperties = true;
            if (reader.ValueTextEquals("model"u8))
            {
                if (!Once(ref seen, Seen.Model))
                {
                    return Duplicate("model");
                }

                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    if (!TryGetText(ref reader, out model))
                    {
                        return new ProxyRequestInfo { Error = "'model' is not valid text: it holds bytes that are not UTF-8, or a lone surrogate escape." };
                    }
                }
                else if (reader.TokenType != JsonTokenType.Null)
                {
                    return new ProxyRequestInfo { Error = "'model' must be a string." };
                }

                modelStart = (int)reader.TokenStartIndex;
                modelEnd = (int)reader.BytesConsumed;
            }
            else if (reader.ValueTextEquals("stream"u8))
            {
                if (!Once(ref seen, Seen.Stream))
                {
                    return Duplicate("stream");
                }

                reader.Read();
                if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null))
                {
                    return new ProxyRequestInfo { Error = "'stream' must be a boolean." };
                }

                stream = reader.TokenType == JsonTokenType.True;
            }
            else if (reader.ValueTextEquals("stream_options"u8))
            {
                if (!Once(ref seen, Seen.StreamOptions))
                {
                    return Duplicate("stream_options");
                }

                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    streamOptionsStart = (int)reader.TokenStartIndex;
                    streamOptionsEnd = (int)reader.BytesConsumed;
                }
                else if (reader.TokenType == JsonTokenType.StartObject)
                {
                    streamOptionsIsObject = true;
                    streamOptionsStart = streamOptionsEnd = (int)reader.BytesConsumed;
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        streamOptionsHasProperties = true;
                        canAddStreamUsage &= !reader.ValueTextEquals("include_usage"u8);
                        reader.Read();
                        reader.Skip();
                    }
                }
                else
                {
                    canAddStreamUsage = false;
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8) || reader.ValueTextEquals("max_output_tokens"u8))
            {
                var name = reader.GetString()!;
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) && value is >= 0 and <= TokenCounts.Max)
                {
                    maxTokens = Math.Max(maxTokens ?? 0, value);
                }
                else if (reader.TokenType != JsonTokenType.Null)
                {
                    // An implausible limit would reserve an implausible cost against the key's budget.
                    return new ProxyRequestInfo { Error = $"'{name}' must be an integer from 0 to {TokenCounts.Max}." };
                }
            }
            else
            {
                reader.Read();
                SkipCountingEmbedded(ref reader, ref embeddedBytes, ref embeddedItems);
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            return new ProxyRequestInfo { Error = "The request body must be a single JSON object." };
        }

        return new ProxyRequestInfo
        {
            ObjectStart = objectStart,
            HasProperties = hasProperties,
            Model = model,
            ModelStart = modelStart,
            ModelEnd = modelEnd,
            Stream = stream,
            CanAddStreamUsage = canAddStreamUsage,
            StreamOptionsStart = streamOptionsStart,
            StreamOptionsEnd = streamOptionsEnd,
            StreamOptionsIsObject = streamOptionsIsObject,
            StreamOptionsHasProperties = streamOptionsHasProperties,
            MaxOutputTokens = maxTokens,
            EmbeddedBytes = embeddedBytes,
            EmbeddedItems = embeddedItems,
        };
    }

    /// <summary>
    /// Skips the value the reader is on, counting the strings in it that carry a file rather than text:
    /// base64 of at least <see cref="MinEmbeddedBytes"/> bytes, bare (Anthropic's <c>"data"</c>) or as a
    /// data URL (OpenAI's <c>image_url</c>). Four bytes of such a string are not a token: a provider
    /// counts an image by its size in pixels.
    /// </summary>
    private static void SkipCountingEmbedded(ref Utf8JsonReader reader, ref long bytes, ref int items)
    {
        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
        {
            CountEmbedded(ref reader, ref bytes, ref items);
            return;
        }

        var depth = reader.CurrentDepth;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            CountEmbedded(ref reader, ref bytes, ref items);
        }
    }

    private static void CountEmbedded(ref Utf8JsonReader reader, ref long bytes, ref int items)
    {
        if (reader.TokenType == JsonTokenType.String && !reader.HasValueSequence && reader.ValueSpan.Length >= MinEmbeddedBytes && IsEmbeddedFile(reader.ValueSpan))
        {
            bytes += reader.ValueSpan.Length;
            items++;
        }
    }

    // "data:<type>;base64,<base64>" or plain base64 (JSON may escape its '/' as "\/"). A PDF is not
    // counted as a file: providers read every page as text and images, thousands of tokens a page,
    // so four bytes of its base64 a token is the closer estimate.
    private static bool IsEmbeddedFile(ReadOnlySpan<byte> raw)
    {
        if (raw.StartsWith("data:"u8))
        {
            var comma = raw[..Math.Min(raw.Length, 256)].IndexOf((byte)',');
            return comma > 0 && raw[..comma].EndsWith(";base64"u8) && !raw.StartsWith("data:application/pdf;"u8);
        }

        // "%PDF-" in base64.
        return raw.IndexOfAnyExcept(Base64Bytes) < 0 && !raw.StartsWith("JVBERi0"u8);
    }

    // The reader checks a string's bytes only when it is read as text: invalid UTF-8, or an escaped
    // lone surrogate, throws InvalidOperationException there, not JsonException.
    private static bool TryGetText(ref Utf8JsonReader reader, out string? text)
    {
        try
        {
            text = reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            text = null;
            return false;
        }
    }

    private static bool Once(ref Seen seen, Seen field)
    {
        if ((seen & field) != 0)
        {
            return false;
        }

        seen |= field;
        return true;
    }

    private static ProxyRequestInfo Duplicate(string name) => new() { Error = $"'{name}' appears more than once." };

    [Flags]
    private enum Seen
    {
        None = 0,
        Model = 1,
        Stream = 2,
        StreamOptions = 4,
    }
}
