using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Hosting;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Runtime.Leadership;
using VirtualKeys.Operator.Tests.Runtime.Support;
using VirtualKeys.Testing;

namespace VirtualKeys.Operator.Tests.Runtime.Hosting;

/// <summary>The host with leader election off, over scripted sources: start, drain, and the drain timeout.</summary>
public sealed class ControllerHostTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Nothing_is_reconciled_before_the_caches_sync_and_everything_listed_is_after()
    {
        var source = new ScriptedListWatcher<V1ConfigMap>();
        var listAllowed = new ManualResetEventSlim();
        source.OnList = _ =>
        {
            if (!listAllowed.IsSet)
            {
                throw new HttpRequestException("Connection refused");
            }

            return new ResourceList<V1ConfigMap>([Objects.ConfigMap("team-a", "one", "1")], "10");
        };
        var log = new ReconcileLog();
        var time = new ObservableTimeProvider();
        var (host, _) = Build(source, log, time);

        await host.StartAsync(Ct);
        await time.WaitForTimerAsync();
        Assert.False(host.HasSynced);
        Assert.Empty(log.Requests);

        listAllowed.Set();
        time.Advance(TimeSpan.FromMinutes(1));
        await log.WaitForCountAsync("team-a/one", 1);
        Assert.True(host.HasSynced);
        Assert.True(host.IsLeader);

        await host.StopAsync(Ct).WaitAsync(Wait.Bound, Ct);
    }

    [Fact]
    public async Task Shutdown_waits_for_a_running_reconcile_to_finish()
    {
        var source = new ScriptedListWatcher<V1ConfigMap> { OnList = _ => new ResourceList<V1ConfigMap>([Objects.ConfigMap("team-a", "slow", "1")], "10") };
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = false;
        var log = new ReconcileLog
        {
            Body = async ct =>
            {
                await release.Task;
                cancelled = ct.IsCancellationRequested;
            },
        };
        var (host, _) = Build(source, log, new ObservableTimeProvider());
        await host.StartAsync(Ct);
        await log.WaitForCountAsync("team-a/slow", 1);

        var stopping = host.StopAsync(Ct);
        await Task.Delay(50, Ct);
        Assert.False(stopping.IsCompleted);

        release.SetResult();
        await stopping.WaitAsync(Wait.Bound, Ct);
        Assert.False(cancelled);
    }

    [Fact]
    public async Task Shutdown_cancels_reconciles_still_running_after_the_drain_timeout()
    {
        var source = new ScriptedListWatcher<V1ConfigMap> { OnList = _ => new ResourceList<V1ConfigMap>([Objects.ConfigMap("team-a", "stuck", "1")], "10") };
        var log = new ReconcileLog { Body = ct => Task.Delay(Timeout.Infinite, ct) };
        var time = new ObservableTimeProvider();
        var (host, _) = Build(source, log, time, drainTimeout: TimeSpan.FromSeconds(20));
        await host.StartAsync(Ct);
        await log.WaitForCountAsync("team-a/stuck", 1);

        var stopping = host.StopAsync(Ct);
        await time.WaitForTimerAsync();
        Assert.False(stopping.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(20));

        await stopping.WaitAsync(Wait.Bound, Ct);
    }

    [Fact]
    public void A_controller_whose_kind_has_no_informer_fails_with_a_pointer_to_AddInformer()
    {
        var services = new ServiceCollection().AddLogging().AddControllerRuntime(o => o.LeaderElection.Enabled = false);
        services.AddSingleton(new ReconcileLog());
        services.AddController<V1ConfigMap, LoggingReconciler>();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IController>());

        Assert.Contains("AddInformer<V1ConfigMap>", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_options_fail_at_start_with_one_clear_line()
    {
        var services = new ServiceCollection().AddLogging()
            .AddControllerRuntime(o => o.LeaderElection.RenewDeadline = TimeSpan.FromMinutes(5));
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<ControllerHostOptions>>().Value);

        Assert.Contains("RenewDeadline", error.Message, StringComparison.Ordinal);
    }

    private static (ControllerHost Host, ServiceProvider Provider) Build(
        ScriptedListWatcher<V1ConfigMap> source,
        ReconcileLog log,
        TimeProvider time,
        TimeSpan? drainTimeout = null)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton(time);
        services.AddSingleton(log);
        services.AddControllerRuntime(o =>
        {
            o.LeaderElection = new LeaderElectionOptions { Enabled = false };
            o.DrainTimeout = drainTimeout ?? TimeSpan.FromMinutes(1);
        });
        services.AddInformer(_ => source, o =>
        {
            o.ResyncPeriod = TimeSpan.Zero;
            o.RetryBaseDelay = TimeSpan.FromMinutes(1);
            o.RetryMaxDelay = TimeSpan.FromMinutes(1);
        });
        services.AddController<V1ConfigMap, LoggingReconciler>(c => c.WithWorkers(2));
        var provider = services.BuildServiceProvider();
        Assert.Single(provider.GetServices<IHostedService>());
        return (provider.GetRequiredService<ControllerHost>(), provider);
    }
}
