namespace VirtualKeys.Sidecar.Hosting;

/// <summary>Body of /healthz and /readyz.</summary>
public sealed class HealthReport
{
    /// <summary>"ok", "ready", "degraded" (ready, serving a stale snapshot, buffering usage or limiting to its own quota share) or "not_ready".</summary>
    public required string Status { get; init; }

    public bool? SnapshotLoaded { get; init; }

    public int? Keys { get; init; }

    public double? SnapshotAgeSeconds { get; init; }

    public bool? SnapshotSourceDegraded { get; init; }

    public bool? UsageSinkDegraded { get; init; }

    public int? UsageBufferDepth { get; init; }

    public int? UsageBufferCapacity { get; init; }

    public int? PendingDecisions { get; init; }

    /// <summary>"shared" (limits held across replicas through PostgreSQL) or "local" (this replica only).</summary>
    public string? QuotaMode { get; init; }

    /// <summary>True while the shared quota counters are unreachable and each key is limited to this replica's share.</summary>
    public bool? QuotaDegraded { get; init; }

    /// <summary>Replicas sharing the limits at the last heartbeat (shared mode only).</summary>
    public int? QuotaLiveReplicas { get; init; }
}
