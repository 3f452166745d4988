namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>A proxied chat request of a steady load and what the client saw.</summary>
internal sealed record ProxiedRequest(LoadPhase Phase, ChatOutcome Outcome);
