namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>A resolve or usage call that did not succeed: its phase, HTTP status (0: no answer) and refusal code.</summary>
internal sealed record FailedCall(LoadPhase Phase, string Call, int Status, string? Code);
