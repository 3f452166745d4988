namespace VirtualKeys.Registry.Keys;

/// <summary>Null means no limit of that kind.</summary>
public sealed record KeyLimits(int? RequestsPerMinute = null, int? TokensPerMinute = null, int? MaxParallelRequests = null);
