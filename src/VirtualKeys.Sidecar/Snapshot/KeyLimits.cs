namespace VirtualKeys.Sidecar.Snapshot;

/// <summary>A null limit means unlimited.</summary>
public sealed record KeyLimits(int? RequestsPerMinute = null, long? TokensPerMinute = null, int? MaxParallelRequests = null)
{
    public static KeyLimits None { get; } = new();
}
