namespace VirtualKeys.MockProvider;

public sealed class MockLlmProviderOptions
{
    /// <summary>0 picks a free loopback port.</summary>
    public int Port { get; set; }

    /// <summary>When set, requests without this credential (in any provider's header scheme) get 401.</summary>
    public string? ExpectedCredential { get; set; }

    /// <summary>Prefix of every answer; the model name and the input's word count follow it.</summary>
    public string AnswerText { get; set; } = "This is a deterministic answer from the mock provider";
}
