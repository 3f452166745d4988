using Microsoft.AspNetCore.Http;
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

    public HealthEndpoints(KeySnapshotStore snapshots, UsageBuffer usage, UsageFlushService flusher, DecisionRegistry decisions)
    {
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
    /// usage sink) stays ready: serving from the snapshot is the point of having one.
    /// </summary>
    public Task ReadyAsync(HttpContext context)
    {
        var loaded = _snapshots.IsLoaded;
        var degraded = _snapshots.IsDegraded || _flusher.IsDegraded;
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
        };
        return JsonResponses.WriteAsync(
            context.Response,
            loaded ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable,
            report,
            SidecarJsonContext.Default.HealthReport);
    }
}
