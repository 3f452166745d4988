namespace VirtualKeys.MockProvider;

/// <summary>One request's deterministic answer: what every response shape is rendered from.</summary>
internal sealed record MockCall(string Model, int InputTokens, IReadOnlyList<string> AnswerWords, bool Stream, bool IncludeUsage, long Sequence)
{
    /// <summary>Of <see cref="InputTokens"/>, reported as read from the prompt cache.</summary>
    public int CachedInputTokens { get; init; }

    public int OutputTokens => AnswerWords.Count;

    public string Text => string.Join(' ', AnswerWords);
}
