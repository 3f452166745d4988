namespace VirtualKeys.MockProvider;

/// <summary>One request's deterministic answer: what every response shape is rendered from.</summary>
internal sealed record MockCall(string Model, int InputTokens, IReadOnlyList<string> AnswerWords, bool Stream, bool IncludeUsage, long Sequence)
{
    public int OutputTokens => AnswerWords.Count;

    public string Text => string.Join(' ', AnswerWords);
}
