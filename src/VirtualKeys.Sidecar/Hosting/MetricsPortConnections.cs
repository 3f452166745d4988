using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Sidecar.Observability;

namespace VirtualKeys.Sidecar.Hosting;

/// <summary>
/// Connection middleware that bounds the connections open at once on the metrics port. Anyone who can
/// reach the pod can connect there; Kestrel's own limit (<c>MaxConcurrentConnections</c>) would count
/// the API's loopback connections too, so a flood of the metrics port would shut out the router.
/// </summary>
internal static class MetricsPortConnections
{
    public static void LimitConnections(this ListenOptions listen, int limit) =>
        listen.Use(next =>
        {
            var metrics = listen.ApplicationServices.GetRequiredService<SidecarMetrics>();
            var open = new OpenConnections();
            return async connection =>
            {
                if (Interlocked.Increment(ref open.Count) > limit)
                {
                    // Not passed on: Kestrel closes the connection when this returns, as at its own limit.
                    Interlocked.Decrement(ref open.Count);
                    metrics.MetricsPortRefused(SidecarMetrics.MetricsPortConnectionLimit);
                    return;
                }

                try
                {
                    await next(connection);
                }
                finally
                {
                    Interlocked.Decrement(ref open.Count);
                }
            };
        });

    private sealed class OpenConnections
    {
        public int Count;
    }
}
