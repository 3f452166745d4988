namespace VirtualKeys.Sidecar.Errors;

/// <summary>A reason a request is not served, with everything its JSON error body and metric need.</summary>
/// <param name="Code">Machine-readable, also the rejection metric's reason label.</param>
/// <param name="RetryAfter">Sent as a Retry-After header (whole seconds, rounded up).</param>
internal readonly record struct Refusal(int Status, string Type, string Code, string Message, string? Param = null, TimeSpan? RetryAfter = null);
