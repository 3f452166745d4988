using System.Buffers;

namespace VirtualKeys.Sidecar.Proxy;

/// <summary>
/// Follows the JSON of a response as it streams past, without buffering it, for two things the usage
/// report does not say: how many bytes of generated text were relayed (the output estimate when no
/// report comes, or the stream ends early), and whether the provider reported an error inside a 2xx
/// answer (Anthropic's and the Responses API's <c>error</c> events, an OpenAI-style error object). It
/// also finds where the usage report itself is, for the <see cref="UsageScanner"/> to read (see
/// <see cref="FeedToUsageEdge"/>).
/// </summary>
/// <remarks>
/// SSE framing needs no handling: every data line's payload is JSON, and the <c>event:</c> and
/// <c>data:</c> prefixes fall outside strings and brackets. Generated text is the string value of a key
/// that carries it in one of the shapes: <c>content</c> (chat), <c>text</c> (completions, Anthropic,
/// the Responses API's output), <c>delta</c> (Responses API events), <c>arguments</c> and
/// <c>partial_json</c> (tool calls), <c>thinking</c>, <c>refusal</c>, <c>reasoning_content</c>. Its
/// bytes are counted as JSON writes them (an escape counts its characters). The Responses API repeats
/// the text of its deltas in its <c>*.done</c> and <c>response.completed</c> events, which are not
/// counted again. An error is only one reported at the top of a document (a top-level <c>error</c>
/// object, <c>"type": "error"</c> or <c>"response.failed"</c>): a tool's schema or a tool call's input
/// may have an <c>error</c> property of its own. Keys and values inside a string (a tool call's
/// arguments that look like JSON) are part of that string and not taken for structure. A usage report,
/// likewise, is only a <c>usage</c> object where providers put theirs: at the top of a document (OpenAI's
/// bodies and the last chunk of its streams, Anthropic's body and <c>message_delta</c>), or at the top of
/// its <c>message</c> (Anthropic's <c>message_start</c>) or <c>response</c> object (the Responses API's
/// events). An Anthropic tool call's input is an object, and a tool that reports usage figures of its
/// own would otherwise be charged as the answer's.
/// </remarks>
internal sealed class ResponseTextScanner
{
    private const int MaxName = 48;

    private static readonly SearchValues<byte> StringSpecials = SearchValues.Create("\"\\"u8);
    private static readonly SearchValues<byte> Structure = SearchValues.Create("\"{}[]"u8);

    private readonly byte[] _name = new byte[MaxName];
    private int _nameLength;
    private bool _nameTooLong;
    private State _state;
    private Kind _kind;
    private bool _escaped;

    // Objects and arrays open around the current byte: a document's own keys are at depth 1.
    private int _depth;
    private bool _keyAtTop;

    // The current document is a Responses API event that repeats text already counted.
    private bool _repeatsText;

    // The document's last top-level key was message or response: an object under it may hold the usage report.
    private bool _topKeyHoldsReport;

    // The depth of the usage report's own keys while it is open, else 0.
    private int _usageDepth;

    // FeedToUsageEdge stops here: a usage report is about to open, or just closed.
    private bool _atUsageEdge;

    private enum State
    {
        /// <summary>Between strings, looking for the next one.</summary>
        Outside,

        /// <summary>Inside a string (<see cref="_kind"/> says what it is).</summary>
        InString,

        /// <summary>A string ended that is a key if a colon follows.</summary>
        AfterCandidate,

        /// <summary>A key ended whose value matters (<see cref="_kind"/>): waiting for the value to begin.</summary>
        BeforeValue,
    }

    private enum Kind
    {
        /// <summary>Perhaps a key: its bytes are kept (up to <see cref="MaxName"/>).</summary>
        Candidate,

        /// <summary>The value of a key that carries generated text: its bytes are counted.</summary>
        Text,

        /// <summary>The value of <c>type</c>: <c>"error"</c> is an error event.</summary>
        Type,

        /// <summary>The value of <c>error</c>: an object is an error report.</summary>
        Error,

        /// <summary>The value of <c>usage</c> where a provider puts its report: an object is the report.</summary>
        Usage,

        /// <summary>A value of no interest.</summary>
        Other,
    }

    /// <summary>Bytes of generated text relayed so far.</summary>
    public long TextBytes { get; private set; }

    /// <summary>The provider reported an error inside the answer.</summary>
    public bool SawError { get; private set; }

    /// <summary>A usage report is open: the bytes fed since it opened, its opening brace first, are its JSON.</summary>
    public bool InUsageReport => _usageDepth > 0;

    public void Feed(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data[FeedToUsageEdge(data)..];
        }
    }

    /// <summary>
    /// Feeds <paramref name="data"/> up to the next edge of a usage report, so a caller can copy the report
    /// as it passes: the bytes before its opening brace (<see cref="InUsageReport"/> turns true), or up to
    /// and including its closing brace (it turns false). Returns the number of bytes taken, all of them
    /// when no edge is among them.
    /// </summary>
    public int FeedToUsageEdge(ReadOnlySpan<byte> data)
    {
        _atUsageEdge = false;
        var i = 0;
        while (i < data.Length && !_atUsageEdge)
        {
            i = _state switch
            {
                State.Outside => Outside(data, i),
                State.InString => InString(data, i),
                State.AfterCandidate => AfterCandidate(data, i),
                _ => BeforeValue(data, i),
            };
        }

        return i;
    }

    private int Outside(ReadOnlySpan<byte> data, int i)
    {
        while (i < data.Length)
        {
            var next = data[i..].IndexOfAny(Structure);
            if (next < 0)
            {
                return data.Length;
            }

            i += next;
            switch (data[i++])
            {
                case (byte)'"':
                    StartString(Kind.Candidate);
                    return i;
                case (byte)'{' or (byte)'[':
                    _depth++;
                    break;
                default:
                    if (_depth > 0 && --_depth == 0)
                    {
                        // The document ended; the next one is another event.
                        _repeatsText = false;
                        _topKeyHoldsReport = false;
                    }

                    if (_usageDepth > 0 && _depth < _usageDepth)
                    {
                        // The usage report closed.
                        _usageDepth = 0;
                        _atUsageEdge = true;
                        return i;
                    }

                    break;
            }
        }

        return i;
    }

    private void StartString(Kind kind)
    {
        _state = State.InString;
        _kind = kind;
        _escaped = false;
        _nameLength = 0;
        _nameTooLong = false;
    }

    private int InString(ReadOnlySpan<byte> data, int i)
    {
        var start = i;
        while (i < data.Length)
        {
            if (_escaped)
            {
                _escaped = false;
                i++;
                continue;
            }

            var special = data[i..].IndexOfAny(StringSpecials);
            if (special < 0)
            {
                i = data.Length;
                break;
            }

            i += special;
            if (data[i] == '\\')
            {
                _escaped = true;
                i++;
                continue;
            }

            // The closing quote.
            Take(data[start..i]);
            EndString();
            return i + 1;
        }

        Take(data[start..i]);
        return i;
    }

    private void Take(ReadOnlySpan<byte> part)
    {
        if (_kind == Kind.Text)
        {
            if (!_repeatsText)
            {
                TextBytes += part.Length;
            }
        }
        else if (_kind is Kind.Candidate or Kind.Type && !_nameTooLong)
        {
            if (_nameLength + part.Length > MaxName)
            {
                _nameTooLong = true;
                return;
            }

            part.CopyTo(_name.AsSpan(_nameLength));
            _nameLength += part.Length;
        }
    }

    private void EndString()
    {
        var name = _nameTooLong ? default : _name.AsSpan(0, _nameLength);
        switch (_kind)
        {
            case Kind.Candidate:
                _state = State.AfterCandidate;
                return;
            case Kind.Type when _keyAtTop && !_nameTooLong:
                SawError |= name.SequenceEqual("error"u8) || name.SequenceEqual("response.failed"u8);
                _repeatsText = name.EndsWith(".done"u8) || name.SequenceEqual("response.completed"u8)
                    || name.SequenceEqual("response.incomplete"u8) || name.SequenceEqual("response.failed"u8);
                break;
        }

        _state = State.Outside;
    }

    private int AfterCandidate(ReadOnlySpan<byte> data, int i)
    {
        for (; i < data.Length; i++)
        {
            var b = data[i];
            if (IsSpace(b))
            {
                continue;
            }

            if (b != ':')
            {
                // A value, not a key: look again from this byte.
                _state = State.Outside;
                return i;
            }

            var name = _nameTooLong ? default : _name.AsSpan(0, _nameLength);
            _kind = KeyKind(name);
            _keyAtTop = _depth == 1;
            if (_keyAtTop)
            {
                _topKeyHoldsReport = name.SequenceEqual("message"u8) || name.SequenceEqual("response"u8);
            }

            if ((_kind == Kind.Error && !_keyAtTop)
                || (_kind == Kind.Usage && (_usageDepth > 0 || !(_keyAtTop || (_depth == 2 && _topKeyHoldsReport)))))
            {
                _kind = Kind.Other;
            }

            _state = _kind == Kind.Other ? State.Outside : State.BeforeValue;
            return i + 1;
        }

        return i;
    }

    private int BeforeValue(ReadOnlySpan<byte> data, int i)
    {
        for (; i < data.Length; i++)
        {
            var b = data[i];
            if (IsSpace(b))
            {
                continue;
            }

            if (b == '"' && _kind is Kind.Text or Kind.Type)
            {
                StartString(_kind);
                return i + 1;
            }

            if (b == '{' && _kind == Kind.Error)
            {
                SawError = true;
            }
            else if (b == '{' && _kind == Kind.Usage)
            {
                // Stop before the brace, which opens the report's level when it is looked at again.
                _usageDepth = _depth + 1;
                _atUsageEdge = true;
                _state = State.Outside;
                return i;
            }

            // Looked at again outside: a bracket opens a level there.
            _state = State.Outside;
            return i;
        }

        return i;
    }

    private static Kind KeyKind(ReadOnlySpan<byte> key)
    {
        if (key.SequenceEqual("content"u8) || key.SequenceEqual("text"u8) || key.SequenceEqual("delta"u8)
            || key.SequenceEqual("arguments"u8) || key.SequenceEqual("partial_json"u8) || key.SequenceEqual("thinking"u8)
            || key.SequenceEqual("refusal"u8) || key.SequenceEqual("reasoning_content"u8))
        {
            return Kind.Text;
        }

        if (key.SequenceEqual("type"u8))
        {
            return Kind.Type;
        }

        if (key.SequenceEqual("usage"u8))
        {
            return Kind.Usage;
        }

        return key.SequenceEqual("error"u8) ? Kind.Error : Kind.Other;
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';
}
