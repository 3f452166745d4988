using System.Text.Json;
using VirtualKeys.Sidecar.Metering;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// Finds token usage in a response as it streams past, without buffering it: the <c>usage</c> object
/// where providers put their report, which the <see cref="ResponseTextScanner"/> fed the same bytes
/// finds (the top-level usage of an OpenAI or Anthropic JSON body, the last chunk of an OpenAI stream
/// with include_usage, Anthropic's message_start and message_delta events, and the Responses API's
/// response.completed event). Only the usage object itself is copied (at most
/// <see cref="MaxUsageObject"/> bytes). Counts are cumulative in every format, so the largest value
/// seen wins.
/// </summary>
/// <remarks>
/// A <c>usage</c> object anywhere else (inside an Anthropic tool call's input, which is an object, or
/// any other object nested in the answer) is the answer's content, not the provider's report. What a
/// report does not say (the text relayed, an error inside the answer) comes from the same
/// <see cref="ResponseTextScanner"/>.
/// </remarks>
/// <param name="firstUsageIsPreliminary">
/// The first usage object is not the final report (Anthropic's streams: message_start's usage says one
/// output token, message_delta's has the count), so a response that carries only that one has no report.
/// </param>
internal sealed class UsageScanner(bool firstUsageIsPreliminary = false)
{
    private const int MaxUsageObject = 2048;

    private readonly ResponseTextScanner _text = new();
    private int _usageObjects;
    private byte[]? _capture;
    private int _captureLength;
    private bool _captureTooLong;

    public long? InputTokens { get; private set; }

    public long? OutputTokens { get; private set; }

    /// <summary>Of <see cref="InputTokens"/>, read from the provider's prompt cache (OpenAI's cached_tokens, Anthropic's cache_read_input_tokens).</summary>
    public long CachedInputTokens { get; private set; }

    /// <summary>Of <see cref="InputTokens"/>, written to the prompt cache (Anthropic's cache_creation_input_tokens).</summary>
    public long CacheWriteInputTokens { get; private set; }

    /// <summary>Of <see cref="CacheWriteInputTokens"/>, written to be kept for an hour (Anthropic's cache_creation.ephemeral_1h_input_tokens).</summary>
    public long CacheWriteOneHourInputTokens { get; private set; }

    public long BytesSeen { get; private set; }

    /// <summary>The provider's final report was read (counts found in it, and it was not a preliminary one).</summary>
    public bool SawUsage => (InputTokens is not null || OutputTokens is not null) && _usageObjects > (firstUsageIsPreliminary ? 1 : 0);

    /// <summary>Bytes of generated text relayed (<see cref="ResponseTextScanner.TextBytes"/>).</summary>
    public long TextBytes => _text.TextBytes;

    /// <summary>The provider reported an error inside the answer (<see cref="ResponseTextScanner.SawError"/>).</summary>
    public bool SawError => _text.SawError;

    public void Feed(ReadOnlySpan<byte> data)
    {
        BytesSeen += data.Length;
        while (!data.IsEmpty)
        {
            var inReport = _text.InUsageReport;
            var taken = _text.FeedToUsageEdge(data);
            if (inReport)
            {
                Capture(data[..taken]);
                if (!_text.InUsageReport && !_captureTooLong)
                {
                    Read(_capture.AsSpan(0, _captureLength));
                }
            }
            else if (_text.InUsageReport)
            {
                _captureLength = 0;
                _captureTooLong = false;
            }

            data = data[taken..];
        }
    }

    // An oversized report is not one a provider sends: it is left unread rather than read in part.
    private void Capture(ReadOnlySpan<byte> part)
    {
        if (_captureTooLong)
        {
            return;
        }

        if (_captureLength + part.Length > MaxUsageObject)
        {
            _captureTooLong = true;
            return;
        }

        _capture ??= new byte[MaxUsageObject];
        part.CopyTo(_capture.AsSpan(_captureLength));
        _captureLength += part.Length;
    }

    /// <summary>The count <paramref name="name"/> of a nested object the reader stands at the start of (0 without it); leaves it at its end.</summary>
    private static long NestedCount(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        long count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isCount = reader.ValueTextEquals(name);
            reader.Read();
            if (isCount && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) && value >= 0)
            {
                count = Math.Min(value, TokenCounts.Max);
            }
            else
            {
                reader.Skip();
            }
        }

        return count;
    }

    private void Read(ReadOnlySpan<byte> usage)
    {
        long? prompt = null, input = null, completion = null, output = null, total = null;
        long cacheCreation = 0, cacheRead = 0, cached = 0, cacheCreationOneHour = 0;
        try
        {
            var reader = new Utf8JsonReader(usage);
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isPrompt = reader.ValueTextEquals("prompt_tokens"u8);
                var isInput = reader.ValueTextEquals("input_tokens"u8);
                var isCompletion = reader.ValueTextEquals("completion_tokens"u8);
                var isOutput = reader.ValueTextEquals("output_tokens"u8);
                var isTotal = reader.ValueTextEquals("total_tokens"u8);
                var isCacheCreation = reader.ValueTextEquals("cache_creation_input_tokens"u8);
                var isCacheRead = reader.ValueTextEquals("cache_read_input_tokens"u8);
                var isInputDetails = reader.ValueTextEquals("prompt_tokens_details"u8) || reader.ValueTextEquals("input_tokens_details"u8);
                var isCacheCreationDetails = reader.ValueTextEquals("cache_creation"u8);
                reader.Read();
                if (isInputDetails && reader.TokenType == JsonTokenType.StartObject)
                {
                    // OpenAI's cache hits, a part of prompt_tokens (chat) or input_tokens (Responses API).
                    cached = NestedCount(ref reader, "cached_tokens"u8);
                    continue;
                }

                if (isCacheCreationDetails && reader.TokenType == JsonTokenType.StartObject)
                {
                    // Anthropic's cache writes by how long they are kept, parts of cache_creation_input_tokens:
                    // those kept for an hour cost more than those kept for five minutes.
                    cacheCreationOneHour = NestedCount(ref reader, "ephemeral_1h_input_tokens"u8);
                    continue;
                }

                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var value) || value < 0)
                {
                    reader.Skip();
                    continue;
                }

                value = Math.Min(value, TokenCounts.Max);

                if (isPrompt)
                {
                    prompt = value;
                }
                else if (isInput)
                {
                    input = value;
                }
                else if (isCompletion)
                {
                    completion = value;
                }
                else if (isOutput)
                {
                    output = value;
                }
                else if (isTotal)
                {
                    total = value;
                }
                else if (isCacheCreation)
                {
                    cacheCreation = value;
                }
                else if (isCacheRead)
                {
                    cacheRead = value;
                }
            }
        }
        catch (JsonException)
        {
            return;
        }

        _usageObjects++;

        // Anthropic counts cache writes and reads apart from input_tokens, OpenAI within them: input is
        // all of it either way, and the cache's part is priced apart where the table has its price.
        if ((prompt ?? input) is { } inputTokens)
        {
            InputTokens = Math.Max(InputTokens ?? 0, inputTokens + cacheCreation + cacheRead);
            CachedInputTokens = Math.Max(CachedInputTokens, cacheRead + cached);
            CacheWriteInputTokens = Math.Max(CacheWriteInputTokens, cacheCreation);
            CacheWriteOneHourInputTokens = Math.Max(CacheWriteOneHourInputTokens, Math.Min(cacheCreationOneHour, cacheCreation));
        }

        // A total beyond input and output is output left out of the count: thinking tokens, which
        // Gemini reports apart and some OpenAI-compatible translations of it leave out of
        // completion_tokens while the provider bills them as output. (OpenAI's and the Responses
        // API's totals are input plus output, so this changes nothing there.)
        if ((completion ?? output) is { } outputTokens)
        {
            if (total is { } all && (prompt ?? input) is { } counted && all - counted > outputTokens)
            {
                outputTokens = all - counted;
            }

            OutputTokens = Math.Max(OutputTokens ?? 0, outputTokens);
        }
    }
}
