using System.Collections.Concurrent;
using k8s;
using k8s.Models;
using Prometheus;
using VirtualKeys.Operator.Runtime.Controllers;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Runtime.Metrics;
using VirtualKeys.Operator.Tests.Runtime.Support;
using VirtualKeys.Testing;

namespace VirtualKeys.Operator.Tests.Runtime.Controllers;

public sealed class ControllerTests : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopInformers = new();
    private readonly CancellationTokenSource _stopAccepting = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly ScriptedListWatcher<V1ConfigMap> _configMaps = new();
    private readonly ScriptedListWatcher<V1Secret> _secrets = new();
    private readonly ObservableTimeProvider _time = new();
    private readonly List<Task> _running = [];

    public async ValueTask DisposeAsync()
    {
        await _abort.CancelAsync();
        await _stopAccepting.CancelAsync();
        await _stopInformers.CancelAsync();
        await Task.WhenAll(_running).WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);
        _stopInformers.Dispose();
        _stopAccepting.Dispose();
        _abort.Dispose();
    }

    [Fact]
    public async Task Each_change_of_a_primary_object_reconciles_its_namespace_and_name()
    {
        var reconciler = new RecordingReconciler();
        _configMaps.OnList = _ => new ResourceList<V1ConfigMap>([Objects.ConfigMap("team-a", "existing", "1")], "10");
        Start(reconciler);
        var watch = await _configMaps.NextWatchAsync();

        watch.Send(WatchEventType.Added, Objects.ConfigMap("team-a", "created", "11"));
        await reconciler.WaitForAsync(2);

        Assert.Equal(["team-a/created", "team-a/existing"], reconciler.Requests.Select(r => r.ToString()).Order());
    }

    [Fact]
    public async Task A_failed_reconcile_is_retried_with_growing_backoff_and_forgotten_on_success()
    {
        var attempts = 0;
        var reconciler = new RecordingReconciler((_, _) => Interlocked.Increment(ref attempts) <= 2
            ? throw new InvalidOperationException("registry unavailable")
            : Task.FromResult(ReconcileResult.Done));
        _configMaps.OnList = _ => new ResourceList<V1ConfigMap>([Objects.ConfigMap("team-a", "key", "1")], "10");
        var controller = Start(reconciler, new ControllerOptions { RetryBaseDelay = TimeSpan.FromSeconds(1), RetryMaxDelay = TimeSpan.FromMinutes(1) });
        var key = new ReconcileRequest("team-a", "key");

        await reconciler.WaitForAsync(1);
        await _time.WaitForTimerAsync();
        Assert.Equal(1, controller.Queue.NumRequeues(key));
        _time.Advance(TimeSpan.FromSeconds(1));
        await reconciler.WaitForAsync(2);

        await _time.WaitForTimerAsync();
        Assert.Equal(2, controller.Queue.NumRequeues(key));
        _time.Advance(TimeSpan.FromSeconds(2) - TimeSpan.FromTicks(1));
        Assert.Equal(2, reconciler.Requests.Count);
        _time.Advance(TimeSpan.FromTicks(1));
        await reconciler.WaitForAsync(3);

        await Wait.UntilAsync(() => controller.Queue.NumRequeues(key) == 0, () => "the backoff is forgotten");
    }

    [Fact]
    public async Task RequeueAfter_reconciles_the_key_again_when_the_delay_has_passed()
    {
        var reconciler = new RecordingReconciler((_, _) => Task.FromResult(ReconcileResult.RequeueAfter(TimeSpan.FromMinutes(5))));
        _configMaps.OnList = _ => new ResourceList<V1ConfigMap>([Objects.ConfigMap("team-a", "expiring", "1")], "10");
        Start(reconciler);

        await reconciler.WaitForAsync(1);
        await _time.WaitForTimerAsync();
        _time.Advance(TimeSpan.FromMinutes(5));

        await reconciler.WaitForAsync(2);
    }

    [Fact]
    public async Task A_secondary_change_reconciles_the_objects_its_mapping_names_before_and_after_the_change()
    {
        var reconciler = new RecordingReconciler();
        _configMaps.OnList = _ => new ResourceList<V1ConfigMap>(
            [Objects.ConfigMap("team-a", "uses-old", "1", "old"), Objects.ConfigMap("team-a", "uses-new", "2", "new")],
            "10");
        _secrets.OnList = _ => new ResourceList<V1Secret>([], "10");
        var controller = NewController(reconciler);
        var secrets = new ResourceInformer<V1Secret>(_secrets, new InformerOptions { ResyncPeriod = TimeSpan.Zero }, _time);
        controller.Watches(secrets, secret => controller.Cache.List(secret.Metadata.NamespaceProperty)
            .Where(cm => cm.Data["secrets"].Split(',').Contains(secret.Metadata.Annotations?["note"] ?? secret.Metadata.Name))
            .Select(ReconcileRequest.For));
        RunInformer(secrets);
        Run(controller);
        await reconciler.WaitForAsync(2);
        var watch = await _secrets.NextWatchAsync();
        reconciler.Clear();

        // The secret was referenced as "old" and now as "new": both dependants must look again.
        watch.Send(WatchEventType.Added, Objects.Secret("team-a", "credentials", "11", note: "old"));
        await reconciler.WaitForAsync(1);
        Assert.Equal(["team-a/uses-old"], reconciler.Requests.Select(r => r.ToString()));
        watch.Send(WatchEventType.Modified, Objects.Secret("team-a", "credentials", "12", note: "new"));
        await reconciler.WaitForAsync(3);

        Assert.Equal(["team-a/uses-new", "team-a/uses-old", "team-a/uses-old"], reconciler.Requests.Select(r => r.ToString()).Order());
    }

    [Fact]
    public async Task One_key_is_never_reconciled_twice_at_once_however_many_events_arrive()
    {
        var inFlight = 0;
        var overlaps = 0;
        var reconciler = new RecordingReconciler(async (request, _) =>
        {
            if (request.Name != "hot")
            {
                return ReconcileResult.Done;
            }

            if (Interlocked.Increment(ref inFlight) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            await Task.Delay(1, TestContext.Current.CancellationToken);
            Interlocked.Decrement(ref inFlight);
            return ReconcileResult.Done;
        });
        _configMaps.OnList = _ => new ResourceList<V1ConfigMap>([], "10");
        Start(reconciler, new ControllerOptions { Workers = 8 }, TimeProvider.System);
        var watch = await _configMaps.NextWatchAsync();

        for (var version = 11; version < 211; version++)
        {
            watch.Send(WatchEventType.Modified, Objects.ConfigMap("team-a", "hot", version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        watch.Send(WatchEventType.Added, Objects.ConfigMap("team-a", "sentinel", "300"));
        await Wait.UntilAsync(() => reconciler.Requests.Any(r => r.Name == "sentinel"), () => "the sentinel is reconciled");

        Assert.Equal(0, overlaps);
    }

    [Fact]
    public async Task Stopping_lets_a_running_reconcile_finish_and_takes_no_further_keys()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = 0;
        var reconciler = new RecordingReconciler(async (_, _) =>
        {
            await release.Task;
            Interlocked.Increment(ref finished);
            return ReconcileResult.Done;
        });
        _configMaps.OnList = _ => new ResourceList<V1ConfigMap>([Objects.ConfigMap("team-a", "slow", "1")], "10");
        var controller = Start(reconciler, new ControllerOptions { Workers = 1 });
        await reconciler.WaitForAsync(1);
        var watch = await _configMaps.NextWatchAsync();
        watch.Send(WatchEventType.Added, Objects.ConfigMap("team-a", "waiting", "11"));
        await Wait.UntilAsync(() => controller.Queue.Count == 1, () => "the second key is queued");

        await _stopAccepting.CancelAsync();
        var run = _running[^1];
        Assert.False(run.IsCompleted);
        release.SetResult();
        await run.WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);

        Assert.Equal(1, finished);
        Assert.Single(reconciler.Requests);
        Assert.Equal(1, controller.Queue.Count);
    }

    [Fact]
    public async Task Aborting_cancels_a_running_reconcile_and_queues_its_key_again()
    {
        var reconciler = new RecordingReconciler(async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return ReconcileResult.Done;
        });
        _configMaps.OnList = _ => new ResourceList<V1ConfigMap>([Objects.ConfigMap("team-a", "stuck", "1")], "10");
        var controller = Start(reconciler);
        await reconciler.WaitForAsync(1);

        await _abort.CancelAsync();
        await _stopAccepting.CancelAsync();
        await _running[^1].WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);

        Assert.Equal(1, controller.Queue.Count);
        Assert.Equal(0, controller.Queue.NumRequeues(new ReconcileRequest("team-a", "stuck")));
    }

    [Fact]
    public async Task Reconciles_are_counted_by_result_and_timed()
    {
        var registry = Metrics.NewCustomRegistry();
        var metrics = new ControllerMetrics(Metrics.WithCustomRegistry(registry));
        var reconciler = new RecordingReconciler((_, _) => throw new InvalidOperationException("boom"));
        _configMaps.OnList = _ => new ResourceList<V1ConfigMap>([Objects.ConfigMap("team-a", "bad", "1")], "10");
        var controller = new Controller<V1ConfigMap>(NewInformer(), reconciler, new ControllerOptions { Name = "widgets" }, _time, metrics: metrics);
        Run(controller);
        await reconciler.WaitForAsync(1);

        await Wait.UntilAsync(
            async () => (await Export(registry)).Contains("vk_controller_reconcile_total{controller=\"widgets\",result=\"error\"} 1", StringComparison.Ordinal),
            () => "the failed reconcile is counted");
        var text = await Export(registry);
        Assert.Contains("vk_controller_reconcile_duration_seconds_count{controller=\"widgets\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("vk_workqueue_retries_total{queue=\"widgets\"} 1", text, StringComparison.Ordinal);
    }

    private static async Task<string> Export(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream, TestContext.Current.CancellationToken);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private Controller<V1ConfigMap> Start(RecordingReconciler reconciler, ControllerOptions? options = null, TimeProvider? time = null)
    {
        var controller = NewController(reconciler, options, time);
        Run(controller);
        return controller;
    }

    private Controller<V1ConfigMap> NewController(RecordingReconciler reconciler, ControllerOptions? options = null, TimeProvider? time = null) =>
        new(NewInformer(time), reconciler, options, time ?? _time);

    private ResourceInformer<V1ConfigMap> NewInformer(TimeProvider? time = null)
    {
        var informer = new ResourceInformer<V1ConfigMap>(_configMaps, new InformerOptions { ResyncPeriod = TimeSpan.Zero }, time ?? _time);
        RunInformer(informer);
        return informer;
    }

    private void RunInformer(IInformer informer) => _running.Add(informer.RunAsync(_stopInformers.Token));

    private void Run(IController controller) => _running.Add(controller.RunAsync(_stopAccepting.Token, _abort.Token));

    private sealed class RecordingReconciler(Func<ReconcileRequest, CancellationToken, Task<ReconcileResult>>? reconcile = null) : IReconciler<V1ConfigMap>
    {
        private readonly ConcurrentQueue<ReconcileRequest> _requests = new();

        public IReadOnlyList<ReconcileRequest> Requests => [.. _requests];

        public void Clear() => _requests.Clear();

        public Task WaitForAsync(int count) => Wait.UntilAsync(() => _requests.Count >= count, () => $"{count} reconciles (have {_requests.Count})");

        public Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
        {
            _requests.Enqueue(request);
            return reconcile is null ? Task.FromResult(ReconcileResult.Done) : reconcile(request, cancellationToken);
        }
    }
}
