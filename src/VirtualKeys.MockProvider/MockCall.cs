namespace VirtualKeys.MockProvider;

/// <summary>One request's deterministic answer: what every response shape is rendered from.</summary>
internal sealed record MockCall(string Model, int InputTokens, IReadOnlyList<string> AnswerWords, bool Stream, bool IncludeUsage, long Sequence)
{
    /// <summary>Of <see cref="InputTokens"/>, reported as read from the prompt cache.</summary>
    public int CachedInputTokens { get; init; }

    /// <summary>Of <see cref="InputTokens"/>, reported as written to the prompt cache (Anthropic only).</summary>
    public int CacheWriteInputTokens { get; init; }

    /// <summary>Of <see cref="CacheWriteInputTokens"/>, reported as kept for an hour.</summary>
    public int CacheWriteOneHourInputTokens { get; init; }

    /// <summary>An Anthropic answer's tool call: the request's first tool, and its input (a JSON object).</summary>
    public (string Name, string Input)? ToolUse { get; init; }

    public int OutputTokens => AnswerWords.Count;

    public string Text => string.Join(' ', AnswerWords);
}
