namespace VirtualKeys.Cli.Demo;

/// <summary>One request of the demo's burst, as the client saw it.</summary>
internal sealed record ChatOutcome(int Number, int Status, string? Model, string? ErrorCode, string? RetryAfter, long? InputTokens, long? OutputTokens);
