namespace VirtualKeys.MockProvider;

internal sealed record MockFault(MockFaultKind Kind, int StatusCode = 0, TimeSpan Delay = default, TimeSpan? RetryAfter = null);
