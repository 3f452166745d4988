namespace VirtualKeys.Sidecar.Hosting;

/// <summary>Body of /healthz and /readyz.</summary>
public sealed class HealthReport
{
    /// <summary>"ok", "ready", "degraded" (ready, serving a stale snapshot or buffering usage) or "not_ready".</summary>
    public required string Status { get; init; }

    public bool? SnapshotLoaded { get; init; }

    public int? Keys { get; init; }

    public double? SnapshotAgeSeconds { get; init; }

    public bool? SnapshotSourceDegraded { get; init; }

    public bool? UsageSinkDegraded { get; init; }

    public int? UsageBufferDepth { get; init; }

    public int? UsageBufferCapacity { get; init; }

    public int? PendingDecisions { get; init; }
}
