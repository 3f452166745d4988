namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>What the client saw: the HTTP status (0 when the connection failed), the refusal code, and the usage of a 200.</summary>
internal sealed record ChatOutcome(int Status, string? Code, long InputTokens, long OutputTokens)
{
    public bool Answered => Status == 200;
}
