using Microsoft.AspNetCore.Http;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Resolve;
using VirtualKeys.Sidecar.Serialization;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Hosting;

internal sealed class HealthEndpoints
{
    private readonly KeySnapshotStore _snapshots;
    private readonly UsageBuffer _usage;
    private readonly UsageFlushService _flusher;
    private readonly DecisionRegistry _decisions;
    private readonly IQuotaHealth? _quota;

    public HealthEndpoints(KeySnapshotStore snapshots, UsageBuffer usage, UsageFlushService flusher, DecisionRegistry decisions, IQuotaStore quota)
    {
        _quota = quota as IQuotaHealth;
        _snapshots = snapshots;
        _usage = usage;
        _flusher = flusher;
        _decisions = decisions;
    }

    /// <summary>Liveness: the process answers.</summary>
    public Task HealthAsync(HttpContext context) =>
        JsonResponses.WriteAsync(context.Response, StatusCodes.Status200OK, new HealthReport { Status = "ok" }, SidecarJsonContext.Default.HealthReport);

    /// <summary>
    /// Readiness: 503 until the first snapshot is loaded. A degraded sidecar (stale snapshot, failing
    /// usage sink, quota counters out of reach) stays ready: serving from the snapshot is the point of having one.
    /// </summary>
    public Task ReadyAsync(HttpContext context)
    {
        var loaded = _snapshots.IsLoaded;
        var quota = _quota?.Health;
        var degraded = _snapshots.IsDegraded || _flusher.IsDegraded || quota?.Degraded == true;
        var report = new HealthReport
        {
            Status = !loaded ? "not_ready" : degraded ? "degraded" : "ready",
            SnapshotLoaded = loaded,
            Keys = _snapshots.Current.Count,
            SnapshotAgeSeconds = _snapshots.Age?.TotalSeconds,
            SnapshotSourceDegraded = _snapshots.IsDegraded,
            UsageSinkDegraded = _flusher.IsDegraded,
            UsageBufferDepth = _usage.Depth,
            UsageBufferCapacity = _usage.Capacity,
            PendingDecisions = _decisions.PendingCount,
            QuotaMode = _quota is null ? "local" : "shared",
            QuotaDegraded = quota?.Degraded ?? false,
            QuotaLiveReplicas = quota?.LiveReplicas,
        };
        return JsonResponses.WriteAsync(
            context.Response,
            loaded ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable,
            report,
            SidecarJsonContext.Default.HealthReport);
    }
}
