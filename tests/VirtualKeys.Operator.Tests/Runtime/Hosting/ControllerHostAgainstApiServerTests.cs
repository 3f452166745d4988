using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Hosting;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Runtime.Leadership;
using VirtualKeys.Operator.Tests.Runtime.Support;

namespace VirtualKeys.Operator.Tests.Runtime.Hosting;

/// <summary>
/// The runtime wired as the operator will wire it, against the local API server: ConfigMaps stand
/// in for VirtualKeys (their "secrets" entry names the Secrets they use).
/// </summary>
public sealed class ControllerHostAgainstApiServerTests : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _cluster = await TestCluster.StartAsync();
        await _cluster.CreateNamespaceAsync("team-a");
    }

    public async ValueTask DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_secret_change_reconciles_the_objects_that_use_it_and_shutdown_releases_the_lease()
    {
        var log = new ReconcileLog();
        await using var provider = Build(log, "host-a");
        var host = provider.GetRequiredService<ControllerHost>();
        await _cluster.CreateSecretAsync("team-a", "credentials");
        await CreateConfigMapAsync("uses-credentials", "credentials");
        await CreateConfigMapAsync("uses-nothing");

        await host.StartAsync(Ct);
        await log.WaitForCountAsync("team-a/uses-credentials", 1);
        await log.WaitForCountAsync("team-a/uses-nothing", 1);
        Assert.True(host.IsLeader);

        await _cluster.UpdateSecretAsync("team-a", "credentials", "rotated");
        await log.WaitForCountAsync("team-a/uses-credentials", 2);

        await host.StopAsync(Ct).WaitAsync(Wait.Bound, Ct);
        var lease = await _cluster.Client.CoordinationV1.ReadNamespacedLeaseAsync("vk-test", "default", cancellationToken: Ct);
        Assert.Equal(string.Empty, lease.Spec.HolderIdentity);
        Assert.Equal(1, log.Requests.Count(r => r.Name == "uses-nothing"));
    }

    [Fact]
    public async Task A_standby_host_reconciles_nothing_until_the_leader_stops_then_takes_over()
    {
        var leaderLog = new ReconcileLog();
        var standbyLog = new ReconcileLog();
        await using var leaderServices = Build(leaderLog, "leader");
        await using var standbyServices = Build(standbyLog, "standby");
        var leader = leaderServices.GetRequiredService<ControllerHost>();
        var standby = standbyServices.GetRequiredService<ControllerHost>();
        await CreateConfigMapAsync("first");

        await leader.StartAsync(Ct);
        await leaderLog.WaitForCountAsync("team-a/first", 1);
        await standby.StartAsync(Ct);
        await Wait.UntilAsync(() => standby.HasSynced, () => "the standby's caches sync");
        await CreateConfigMapAsync("second");
        await leaderLog.WaitForCountAsync("team-a/second", 1);
        Assert.Empty(standbyLog.Requests);

        await leader.StopAsync(Ct).WaitAsync(Wait.Bound, Ct);
        await Wait.UntilAsync(() => standby.IsLeader, () => "the standby leads");
        await CreateConfigMapAsync("third");

        await standbyLog.WaitForCountAsync("team-a/third", 1);
        await standby.StopAsync(Ct).WaitAsync(Wait.Bound, Ct);
    }

    private ServiceProvider Build(ReconcileLog log, string identity)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton(_cluster.Client);
        services.AddSingleton(log);
        services.AddControllerRuntime(o =>
        {
            o.WatchNamespaces = ["team-a"];
            o.DrainTimeout = TimeSpan.FromSeconds(5);
            // The default lease: with a short one a single slow renewal ends the term on a loaded
            // machine. The takeover here follows a release, so it does not wait out the lease.
            o.LeaderElection = LeaderElectionOptions.ForLease(TimeSpan.FromSeconds(15));
            o.LeaderElection.LeaseName = "vk-test";
            o.LeaderElection.LeaseNamespace = "default";
            o.LeaderElection.Identity = identity;
        });
        services.AddInformer(sp => ListWatchers.ConfigMaps(sp.GetRequiredService<IKubernetes>()), o => o.ResyncPeriod = TimeSpan.Zero);
        services.AddSecretInformer(o => o.ResyncPeriod = TimeSpan.Zero);
        services.AddController<V1ConfigMap, LoggingReconciler>(c => c
            .WithWorkers(2)
            .Watches<V1Secret>((secret, configMaps) => configMaps
                .List(secret.Metadata.NamespaceProperty)
                .Where(cm => (cm.Data?["secrets"] ?? string.Empty).Split(',').Contains(secret.Metadata.Name))
                .Select(ReconcileRequest.For)));
        return services.BuildServiceProvider();
    }

    private Task<V1ConfigMap> CreateConfigMapAsync(string name, params string[] secrets) =>
        _cluster.Client.CoreV1.CreateNamespacedConfigMapAsync(
            new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name }, Data = new Dictionary<string, string> { ["secrets"] = string.Join(',', secrets) } },
            "team-a",
            cancellationToken: Ct);
}
