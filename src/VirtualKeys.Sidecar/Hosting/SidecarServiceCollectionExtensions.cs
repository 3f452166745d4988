using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Observability;
using VirtualKeys.Sidecar.Pricing;
using VirtualKeys.Sidecar.Proxy;
using VirtualKeys.Sidecar.Resolve;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Hosting;

public static class SidecarServiceCollectionExtensions
{
    /// <summary>
    /// Registers the sidecar. The caller registers an <see cref="IKeySnapshotSource"/> and an
    /// <see cref="IUsageSink"/>; an <see cref="IQuotaStore"/> registered before this call (or replacing it
    /// afterwards) replaces the single-replica <see cref="LocalQuotaStore"/>. A store that is also an
    /// IHostedService is started and stopped with the sidecar, after everything else has stopped.
    /// </summary>
    /// <param name="timeProvider">The clock for windows, budgets and expiry (not for network timeouts).</param>
    public static IServiceCollection AddVirtualKeySidecar(this IServiceCollection services, SidecarOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        services.AddSingleton(options);
        services.AddKeyedSingleton(SidecarServiceKeys.Clock, timeProvider ?? TimeProvider.System);
        services.AddSingleton(_ => PricingTable.Load(
            options.PricingFile,
            new ModelPrice(options.UnknownModelInputPerMillionUsd, options.UnknownModelOutputPerMillionUsd)));
        services.AddSingleton<SidecarMetrics>();
        services.AddSingleton<KeySnapshotStore>();
        services.TryAddSingleton<IQuotaStore, LocalQuotaStore>();
        services.AddSingleton(_ => new UsageBuffer(options.UsageBufferCapacity));
        services.AddSingleton<DecisionIds>();
        services.AddSingleton<UsageRecorder>();
        services.AddSingleton<KeyResolver>();
        services.AddSingleton<UpstreamClient>();
        services.AddSingleton<ResolveEndpoints>();
        services.AddSingleton<HealthEndpoints>();
        services.AddSingleton<ProxyHandler>();

        // Hosted services stop in reverse order: decisions are settled before the flusher drains,
        // and the quota store gives its leases back last.
        services.AddHostedService<QuotaStoreLifetime>();
        services.AddSingleton<UsageFlushService>();
        services.AddHostedService(sp => sp.GetRequiredService<UsageFlushService>());
        services.AddSingleton<DecisionRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<DecisionRegistry>());
        services.AddHostedService<SnapshotSyncService>();
        return services;
    }
}
