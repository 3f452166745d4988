using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Observability;
using VirtualKeys.Sidecar.OpenApi;
using VirtualKeys.Sidecar.Proxy;
using VirtualKeys.Sidecar.Resolve;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Hosting;

public static class SidecarEndpointRouteBuilderExtensions
{
    /// <summary>The sidecar's middleware and endpoints; endpoints are plain request delegates (no model binding on the hot path).</summary>
    public static WebApplication MapVirtualKeySidecar(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var services = app.Services;

        app.UseMiddleware<SidecarMiddleware>();
        app.UseRouting();

        var resolve = services.GetRequiredService<ResolveEndpoints>();
        app.MapPost("/v1/resolve", (RequestDelegate)resolve.ResolveAsync);
        app.MapPost("/v1/usage", (RequestDelegate)resolve.ReportUsageAsync);

        var proxy = services.GetRequiredService<ProxyHandler>();
        foreach (var route in ProxyRoute.All)
        {
            app.MapPost(route.Path, proxy.For(route));
        }

        var health = services.GetRequiredService<HealthEndpoints>();
        app.MapGet("/healthz", (RequestDelegate)health.HealthAsync);
        app.MapGet("/readyz", (RequestDelegate)health.ReadyAsync);
        app.MapGet("/openapi.json", (RequestDelegate)SidecarOpenApiDocument.WriteAsync);

        var metrics = services.GetRequiredService<SidecarMetrics>();
        var snapshots = services.GetRequiredService<KeySnapshotStore>();
        var usage = services.GetRequiredService<UsageBuffer>();
        var flusher = services.GetRequiredService<UsageFlushService>();
        var decisions = services.GetRequiredService<DecisionRegistry>();
        metrics.Registry.AddBeforeCollectCallback(() =>
        {
            metrics.SnapshotAge.Set(snapshots.Age?.TotalSeconds ?? -1);
            metrics.SnapshotKeys.Set(snapshots.Current.Count);
            metrics.UsageBufferDepth.Set(usage.Depth);
            metrics.UsageBufferCapacity.Set(usage.Capacity);
            metrics.Degraded.WithLabels("snapshot_source").Set(snapshots.IsDegraded ? 1 : 0);
            metrics.Degraded.WithLabels("usage_sink").Set(flusher.IsDegraded ? 1 : 0);
            metrics.InFlightDecisions.Set(decisions.PendingCount);
        });
        app.MapMetrics("/metrics", metrics.Registry);
        return app;
    }
}
