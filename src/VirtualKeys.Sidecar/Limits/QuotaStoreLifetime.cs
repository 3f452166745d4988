using Microsoft.Extensions.Hosting;
using VirtualKeys.Sidecar.Observability;

namespace VirtualKeys.Sidecar.Limits;

/// <summary>
/// Starts and stops the registered quota store when it has a lifetime of its own (the shared store's
/// heartbeat and lease returns) and puts its health into the metrics. Registered before the other
/// hosted services, so it stops after them: open decisions have settled before leases go back.
/// </summary>
internal sealed class QuotaStoreLifetime(IQuotaStore store, SidecarMetrics metrics) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (store is IQuotaHealth health)
        {
            metrics.ObserveQuota(health);
        }

        return store is IHostedService hosted ? hosted.StartAsync(cancellationToken) : Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        store is IHostedService hosted ? hosted.StopAsync(cancellationToken) : Task.CompletedTask;
}
