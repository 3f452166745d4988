using System.Text.Json;
using VirtualKeys.Sidecar.Metering;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// Finds token usage in a response as it streams past, without buffering it. It looks for a JSON key
/// <c>"usage"</c> followed by an object, anywhere: the top-level usage of an OpenAI or Anthropic JSON
/// body, the last chunk of an OpenAI stream with include_usage, Anthropic's message_start and
/// message_delta events, and the Responses API's response.completed event. Only the usage object
/// itself is copied (at most <see cref="MaxUsageObject"/> bytes). Counts are cumulative in every
/// format, so the largest value seen wins.
/// </summary>
/// <remarks>
/// A quote preceded by a backslash is inside a string (e.g. tool-call arguments), so it is skipped.
/// What a report does not say (the text relayed, an error inside the answer) comes from a
/// <see cref="ResponseTextScanner"/> fed the same bytes.
/// </remarks>
/// <param name="firstUsageIsPreliminary">
/// The first usage object is not the final report (Anthropic's streams: message_start's usage says one
/// output token, message_delta's has the count), so a response that carries only that one has no report.
/// </param>
internal sealed class UsageScanner(bool firstUsageIsPreliminary = false)
{
    private const int MaxUsageObject = 2048;
    private const int TailLength = 7;

    private readonly ResponseTextScanner _text = new();
    private readonly byte[] _tail = new byte[TailLength];
    private int _usageObjects;
    private int _tailLength;
    private Mode _mode;
    private bool _colonSeen;
    private byte[]? _capture;
    private int _captureLength;
    private int _depth;
    private bool _inString;
    private bool _escaped;

    private enum Mode
    {
        Search,
        AfterKey,
        Capture,
    }

    public long? InputTokens { get; private set; }

    public long? OutputTokens { get; private set; }

    /// <summary>Of <see cref="InputTokens"/>, read from the provider's prompt cache (OpenAI's cached_tokens, Anthropic's cache_read_input_tokens).</summary>
    public long CachedInputTokens { get; private set; }

    /// <summary>Of <see cref="InputTokens"/>, written to the prompt cache (Anthropic's cache_creation_input_tokens).</summary>
    public long CacheWriteInputTokens { get; private set; }

    public long BytesSeen { get; private set; }

    /// <summary>The provider's final report was read (counts found in it, and it was not a preliminary one).</summary>
    public bool SawUsage => (InputTokens is not null || OutputTokens is not null) && _usageObjects > (firstUsageIsPreliminary ? 1 : 0);

    /// <summary>Bytes of generated text relayed (<see cref="ResponseTextScanner.TextBytes"/>).</summary>
    public long TextBytes => _text.TextBytes;

    /// <summary>The provider reported an error inside the answer (<see cref="ResponseTextScanner.SawError"/>).</summary>
    public bool SawError => _text.SawError;

    private static ReadOnlySpan<byte> Key => "\"usage\""u8;

    public void Feed(ReadOnlySpan<byte> data)
    {
        BytesSeen += data.Length;
        _text.Feed(data);
        var i = 0;
        while (i < data.Length)
        {
            switch (_mode)
            {
                case Mode.Search:
                    i = Search(data, i);
                    break;
                case Mode.AfterKey:
                    i = AfterKey(data, i);
                    break;
                default:
                    i = Capture(data, i);
                    break;
            }
        }
    }

    private int Search(ReadOnlySpan<byte> data, int start)
    {
        if (start == 0 && _tailLength > 0)
        {
            // A key split across two reads: look at the end of the last read joined to this one's start.
            var tailLength = _tailLength;
            Span<byte> joined = stackalloc byte[TailLength * 2];
            _tail.AsSpan(0, tailLength).CopyTo(joined);
            var take = Math.Min(data.Length, Key.Length - 1);
            data[..take].CopyTo(joined[tailLength..]);
            var window = joined[..(tailLength + take)];
            var at = window.IndexOf(Key);
            if (at >= 0 && at + Key.Length > tailLength && (at == 0 || window[at - 1] != '\\'))
            {
                _tailLength = 0;
                EnterAfterKey();
                return at + Key.Length - tailLength;
            }
        }

        var offset = start;
        while (true)
        {
            var found = data[offset..].IndexOf(Key);
            if (found < 0)
            {
                Remember(data);
                return data.Length;
            }

            var at = offset + found;
            var before = at > 0 ? data[at - 1] : (_tailLength > 0 ? _tail[_tailLength - 1] : (byte)0);
            if (before != '\\')
            {
                _tailLength = 0;
                EnterAfterKey();
                return at + Key.Length;
            }

            offset = at + 1;
        }
    }

    private void EnterAfterKey()
    {
        _mode = Mode.AfterKey;
        _colonSeen = false;
    }

    private void Remember(ReadOnlySpan<byte> data)
    {
        if (data.Length >= TailLength)
        {
            data[^TailLength..].CopyTo(_tail);
            _tailLength = TailLength;
            return;
        }

        var keep = Math.Min(_tailLength, TailLength - data.Length);
        _tail.AsSpan(_tailLength - keep, keep).CopyTo(_tail);
        data.CopyTo(_tail.AsSpan(keep));
        _tailLength = keep + data.Length;
    }

    private int AfterKey(ReadOnlySpan<byte> data, int i)
    {
        for (; i < data.Length; i++)
        {
            var b = data[i];
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            {
                continue;
            }

            if (!_colonSeen && b == ':')
            {
                _colonSeen = true;
                continue;
            }

            if (_colonSeen && b == '{')
            {
                _capture ??= new byte[MaxUsageObject];
                _capture[0] = b;
                _captureLength = 1;
                _depth = 1;
                _inString = false;
                _escaped = false;
                _mode = Mode.Capture;
                return i + 1;
            }

            // "usage" was a value, or its value is null: look further from this byte.
            _mode = Mode.Search;
            return i;
        }

        return i;
    }

    private int Capture(ReadOnlySpan<byte> data, int i)
    {
        for (; i < data.Length; i++)
        {
            var b = data[i];
            if (_captureLength == MaxUsageObject)
            {
                _mode = Mode.Search;
                return i;
            }

            _capture![_captureLength++] = b;
            if (_inString)
            {
                if (_escaped)
                {
                    _escaped = false;
                }
                else if (b == '\\')
                {
                    _escaped = true;
                }
                else if (b == '"')
                {
                    _inString = false;
                }

                continue;
            }

            if (b == '"')
            {
                _inString = true;
            }
            else if (b == '{')
            {
                _depth++;
            }
            else if (b == '}' && --_depth == 0)
            {
                Read(_capture.AsSpan(0, _captureLength));
                _mode = Mode.Search;
                return i + 1;
            }
        }

        return i;
    }

    /// <summary>The <c>cached_tokens</c> of a details object the reader stands at the start of; leaves it at its end.</summary>
    private static long CachedTokens(ref Utf8JsonReader reader)
    {
        long cached = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isCached = reader.ValueTextEquals("cached_tokens"u8);
            reader.Read();
            if (isCached && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) && value >= 0)
            {
                cached = Math.Min(value, TokenCounts.Max);
            }
            else
            {
                reader.Skip();
            }
        }

        return cached;
    }

    private void Read(ReadOnlySpan<byte> usage)
    {
        long? prompt = null, input = null, completion = null, output = null, total = null;
        long cacheCreation = 0, cacheRead = 0, cached = 0;
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
                reader.Read();
                if (isInputDetails && reader.TokenType == JsonTokenType.StartObject)
                {
                    // OpenAI's cache hits, a part of prompt_tokens (chat) or input_tokens (Responses API).
                    cached = CachedTokens(ref reader);
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
