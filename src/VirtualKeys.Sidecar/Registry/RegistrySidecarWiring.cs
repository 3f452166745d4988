using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Registry;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Limits;

namespace VirtualKeys.Sidecar.Registry;

/// <summary>
/// A sidecar on the registry, wired the one way the binary, the demo and the tests share: the
/// registry-backed snapshot source and usage sink, and the quota store <see cref="QuotaOptions.Mode"/>
/// picks, which the source also tells each key's recorded spend.
/// </summary>
public sealed class RegistrySidecarWiring
{
    private RegistrySidecarWiring(IQuotaStore quota, RegistryKeySnapshotSource source, RegistryUsageSink sink)
    {
        Quota = quota;
        Source = source;
        Sink = sink;
    }

    /// <summary><see cref="SharedQuotaStore"/> or <see cref="LocalQuotaStore"/>.</summary>
    public IQuotaStore Quota { get; }

    public RegistryKeySnapshotSource Source { get; }

    public RegistryUsageSink Sink { get; }

    /// <param name="time">The sidecar's clock (windows, periods); null for the system clock.</param>
    /// <param name="fullSyncInterval">See <see cref="RegistryKeySnapshotSource"/>; null for its default.</param>
    /// <exception cref="InvalidOperationException">The quota options are invalid (the message names the setting).</exception>
    public static RegistrySidecarWiring Create(
        VirtualKeyRegistry registry,
        QuotaOptions quota,
        TimeProvider? time = null,
        ILoggerFactory? loggerFactory = null,
        TimeSpan? fullSyncInterval = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(quota);
        quota.Validate();
        time ??= TimeProvider.System;
        loggerFactory ??= NullLoggerFactory.Instance;
        IQuotaStore store = quota.Mode == QuotaMode.Local
            ? new LocalQuotaStore(time)
            : new SharedQuotaStore(registry.Quotas, quota, time, loggerFactory.CreateLogger<SharedQuotaStore>());
        var source = new RegistryKeySnapshotSource(registry, loggerFactory, time, fullSyncInterval, (IRecordedSpendObserver)store);
        return new RegistrySidecarWiring(
            store,
            source,
            new RegistryUsageSink(registry, store as IQuotaPresence, source, time, loggerFactory.CreateLogger<RegistryUsageSink>()));
    }

    /// <summary>Makes the sidecar use <see cref="Quota"/>; pass it as (or call it from) the builder callback.</summary>
    public void Configure(WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton(Quota));
    }

    /// <param name="options">Null binds them from the "Sidecar" configuration section.</param>
    /// <param name="configure">Runs after the quota store is registered.</param>
    public WebApplication CreateApp(SidecarOptions? options, TimeProvider? time = null, Action<WebApplicationBuilder>? configure = null, string[]? args = null) =>
        SidecarApp.Create(
            options,
            Source,
            Sink,
            time,
            builder =>
            {
                Configure(builder);
                configure?.Invoke(builder);
            },
            args);
}
