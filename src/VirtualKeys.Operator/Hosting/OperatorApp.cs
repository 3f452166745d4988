using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using VirtualKeys.Model;
using VirtualKeys.Operator.Api;
using VirtualKeys.Operator.Events;
using VirtualKeys.Operator.Observability;
using VirtualKeys.Operator.Options;
using VirtualKeys.Operator.Orphans;
using VirtualKeys.Operator.Reconciliation;
using VirtualKeys.Operator.Runtime.Hosting;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Runtime.Leadership;
using VirtualKeys.Operator.Runtime.Metrics;
using VirtualKeys.Operator.Usage;
using VirtualKeys.Registry;

namespace VirtualKeys.Operator.Hosting;

/// <summary>
/// The whole operator as an object: what <c>Program</c> runs, and what tests and <c>vk demo</c>
/// start in-process. <see cref="BuildAsync"/> opens the registry (applying migrations) and wires
/// informers, the VirtualKey controller, the usage syncer, leader election and the HTTP endpoints
/// (<c>/healthz</c>, <c>/readyz</c>, <c>/metrics</c>); <see cref="StartAsync"/> starts them.
/// </summary>
public sealed class OperatorApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly VirtualKeyRegistry _registry;
    private int _disposed;

    private OperatorApp(WebApplication app, VirtualKeyRegistry registry, OperatorSettings settings)
    {
        _app = app;
        _registry = registry;
        Settings = settings;
    }

    public OperatorSettings Settings { get; }

    public IServiceProvider Services => _app.Services;

    public VirtualKeyRegistry Registry => _registry;

    public bool IsLeader => Services.GetRequiredService<ControllerHost>().IsLeader;

    public bool HasSynced => Services.GetRequiredService<ControllerHost>().HasSynced;

    /// <summary>The addresses the HTTP endpoints listen on, once started (a port 0 in the settings is resolved here).</summary>
    public IReadOnlyCollection<string> Urls =>
        _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    /// <exception cref="OperatorSettingsException">A setting is invalid.</exception>
    /// <exception cref="Registry.Connections.RegistryUnavailableException">PostgreSQL is unreachable.</exception>
    /// <exception cref="Registry.Protection.RegistryProtectionException">The KEK file is unusable.</exception>
    public static async Task<OperatorApp> BuildAsync(
        OperatorSettings settings,
        KubernetesClientConfiguration kubernetes,
        OperatorAppOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(kubernetes);
        settings.Validate();
        options ??= new OperatorAppOptions();
        var timeProvider = options.TimeProvider ?? TimeProvider.System;
        var metricsRegistry = options.MetricsRegistry ?? Metrics.DefaultRegistry;
        var metricFactory = Metrics.WithCustomRegistry(metricsRegistry);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = typeof(OperatorApp).Assembly.GetName().Name });
        builder.WebHost.UseUrls(settings.Urls);
        builder.Logging.ClearProviders();
        if (options.LoggingConfiguration is not null)
        {
            builder.Logging.AddConfiguration(options.LoggingConfiguration);
        }

        if (options.ConfigureLogging is not null)
        {
            options.ConfigureLogging(builder.Logging);
        }
        else
        {
            builder.Logging.AddJsonConsole(json =>
            {
                json.IncludeScopes = true;
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
            });
        }

        VirtualKeyRegistry? registry = null;
        var services = builder.Services;
        services.Configure<HostOptions>(h => h.ShutdownTimeout = options.DrainTimeout + TimeSpan.FromSeconds(10));
        services.AddSingleton(timeProvider);
        services.AddSingleton<IKubernetes>(_ => new k8s.Kubernetes(kubernetes, [.. options.KubernetesHandlers]));
        services.AddSingleton(_ => registry ?? throw new InvalidOperationException("The registry is not open."));
        services.AddSingleton(new ControllerMetrics(metricFactory));
        services.AddSingleton(new OperatorMetrics(metricFactory));
        services.AddSingleton(options.CallObserver ?? NoExternalCallObserver.Instance);
        services.AddControllerRuntime(host =>
        {
            host.WatchNamespaces = [.. settings.WatchNamespaces];
            host.DrainTimeout = options.DrainTimeout;
            host.LeaderElection = LeaderElection(settings);
        });
        services.AddCustomResourceInformer<VirtualKey>(i => i.ResyncPeriod = settings.ResyncInterval);
        services.AddSecretInformer(i => i.ResyncPeriod = settings.ResyncInterval, SecretCacheTrim.Trim);

        var index = new SecretReferenceIndex();
        services.AddSingleton(index);
        services.AddController<VirtualKey, VirtualKeyReconciler>(controller => controller
            .WithName("virtualkey")
            .WithWorkers(settings.Workers)
            .WithRetryBackoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30))
            .Watches<V1Secret>(secret => index.KeysReferencing(secret)));

        services.AddSingleton<VirtualKeyApi>();
        services.AddSingleton(sp => new EventRecorder(
            sp.GetRequiredService<IKubernetes>(),
            timeProvider,
            sp.GetRequiredService<IExternalCallObserver>(),
            sp.GetRequiredService<ILogger<EventRecorder>>(),
            settings.Identity));
        services.AddSingleton<RegistryWriteCache>();
        services.AddSingleton<RecentWrites<VirtualKey>>();
        services.AddSingleton<RecentWrites<V1Secret>>();
        services.Configure<VirtualKeyReconcilerOptions>(o => o.TokenRotationGrace = settings.TokenRotationGrace);
        services.Configure<UsageSyncerOptions>(o =>
        {
            o.Interval = settings.UsageSyncInterval;
            o.Qps = settings.UsageSyncQps;
        });
        services.AddSingleton<UsageSyncer>();
        services.AddSingleton<Runtime.Controllers.IController>(sp => sp.GetRequiredService<UsageSyncer>());
        services.Configure<OrphanedKeySweeperOptions>(o =>
        {
            o.Interval = OrphanedKeySweeperOptions.IntervalFor(settings.ResyncInterval);
            o.WatchNamespaces = [.. settings.WatchNamespaces];
            o.MaxRevocationsPerSweep = settings.OrphanSweepLimit;
        });
        services.AddSingleton<OrphanedKeySweeper>();
        services.AddSingleton<Runtime.Controllers.IController>(sp => sp.GetRequiredService<OrphanedKeySweeper>());
        services.AddSingleton<RegistryProbe>();

        var app = builder.Build();
        try
        {
            registry = await VirtualKeyRegistry.OpenAsync(
                settings.RegistryConnectionString,
                settings.RegistryKekFile,
                settings.RegistryPreviousKekFiles,
                timeProvider,
                app.Services.GetRequiredService<ILoggerFactory>(),
                cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var keyInformer = app.Services.GetRequiredService<IResourceInformer<VirtualKey>>();
        keyInformer.AddEventHandler(index);
        keyInformer.AddEventHandler(app.Services.GetRequiredService<OrphanedKeySweeper>());
        MapEndpoints(app, metricsRegistry);
        return new OperatorApp(app, registry, settings);
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    /// <summary>Stops gracefully: running reconciles drain, then the lease is released.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled (or the host is told to stop), then stops gracefully.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await _app.StartAsync(cancellationToken);
        await _app.WaitForShutdownAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _app.DisposeAsync();
        await _registry.DisposeAsync();
    }

    private static LeaderElectionOptions LeaderElection(OperatorSettings settings)
    {
        var options = LeaderElectionOptions.ForLease(settings.LeaseDuration);
        options.Enabled = settings.LeaderElectionEnabled;
        options.LeaseName = settings.LeaseName;
        options.LeaseNamespace = settings.LeaseNamespace;
        options.Identity = settings.Identity;
        return options;
    }

    private static void MapEndpoints(WebApplication app, CollectorRegistry metricsRegistry)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", async (ControllerHost host, RegistryProbe probe, CancellationToken cancellationToken) =>
        {
            var (reachable, error) = await probe.CheckAsync(cancellationToken);
            var synced = host.HasSynced;
            var ready = synced && reachable;
            var report = new ReadinessReport(ready ? "ready" : "not ready", synced, reachable, probe.Endpoint, error, host.IsLeader, synced ? null : host.Unsynced);
            return Results.Json(report, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        app.MapMetrics("/metrics", metricsRegistry);
    }
}
