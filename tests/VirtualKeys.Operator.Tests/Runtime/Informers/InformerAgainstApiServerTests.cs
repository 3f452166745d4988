using k8s;
using k8s.Models;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Tests.Runtime.Support;
using VirtualKeys.Testing;

namespace VirtualKeys.Operator.Tests.Runtime.Informers;

/// <summary>The informer against a real API server: the in-process local cluster, with its fault levers.</summary>
public sealed class InformerAgainstApiServerTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _stop = new();
    private readonly RecordingHandler<V1Secret> _handler = new();
    private TestCluster _cluster = null!;
    private Task _run = Task.CompletedTask;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _cluster = await TestCluster.StartAsync();
        await _cluster.CreateNamespaceAsync("team-a");
        await _cluster.CreateNamespaceAsync("team-b");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(Wait.Bound, Ct);
        await _cluster.DisposeAsync();
        _stop.Dispose();
    }

    [Fact]
    public async Task The_initial_list_fills_the_cache()
    {
        await _cluster.CreateSecretAsync("team-a", "one");
        await _cluster.CreateSecretAsync("team-b", "two");

        var informer = Start(ListWatchers.Secrets(_cluster.Client));
        await informer.WaitForCacheSyncAsync(Ct).WaitAsync(Wait.Bound, Ct);

        Assert.NotNull(informer.Get("team-a", "one"));
        Assert.NotNull(informer.Get("team-b", "two"));
        Assert.Contains("added team-a/one", _handler.Changes);
        Assert.Contains("added team-b/two", _handler.Changes);
    }

    [Fact]
    public async Task Adds_updates_and_deletes_are_delivered_and_cached()
    {
        var informer = Start(ListWatchers.Secrets(_cluster.Client));
        await informer.WaitForCacheSyncAsync(Ct).WaitAsync(Wait.Bound, Ct);

        await _cluster.CreateSecretAsync("team-a", "s");
        await _handler.WaitForAsync("added team-a/s");
        var updated = await _cluster.UpdateSecretAsync("team-a", "s", "v2");
        await _handler.WaitForAsync("updated team-a/s");
        Assert.Equal(updated.Metadata.ResourceVersion, informer.Get("team-a", "s")?.Metadata.ResourceVersion);

        await _cluster.DeleteSecretAsync("team-a", "s");
        await _handler.WaitForAsync("deleted team-a/s");
        Assert.Null(informer.Get("team-a", "s"));
    }

    [Fact]
    public async Task Dropped_watches_are_resumed_from_the_last_version_without_a_relist()
    {
        var source = new CountingListWatcher<V1Secret>(ListWatchers.Secrets(_cluster.Client));
        var informer = Start(source, Fast());
        await informer.WaitForCacheSyncAsync(Ct).WaitAsync(Wait.Bound, Ct);
        var seen = await _cluster.CreateSecretAsync("team-a", "before");
        await _handler.WaitForAsync("added team-a/before");

        _cluster.Server.Faults.DropAllWatches();
        await Wait.UntilAsync(() => source.WatchVersions.Count >= 2, () => "the watch is reopened");
        await _cluster.CreateSecretAsync("team-a", "after");
        await _handler.WaitForAsync("added team-a/after");

        Assert.Equal(1, source.Lists);
        Assert.Equal(seen.Metadata.ResourceVersion, source.WatchVersions[1]);
    }

    [Fact]
    public async Task After_410_Gone_the_relist_delivers_the_missed_update_and_synthesizes_the_missed_delete()
    {
        await _cluster.CreateSecretAsync("team-a", "changed", "v1");
        await _cluster.CreateSecretAsync("team-a", "deleted");
        var source = new CountingListWatcher<V1Secret>(ListWatchers.Secrets(_cluster.Client));
        var informer = Start(source, Fast());
        await informer.WaitForCacheSyncAsync(Ct).WaitAsync(Wait.Bound, Ct);

        // Keep the informer away (its re-watches fail) while the world changes and the history is compacted.
        _cluster.Server.Faults.FailNext(100_000, 500, "secrets", "watch");
        _cluster.Server.Faults.DropAllWatches();
        await Wait.UntilAsync(() => source.WatchVersions.Count >= 3, () => "re-watches are failing");
        var changed = await _cluster.UpdateSecretAsync("team-a", "changed", "v2");
        await _cluster.DeleteSecretAsync("team-a", "deleted");
        await _cluster.CreateSecretAsync("team-a", "created");
        _cluster.Server.Faults.ExpireWatchHistory();
        _cluster.Server.Faults.Reset();

        await _handler.WaitForAsync("deleted team-a/deleted");
        await _handler.WaitForAsync("updated team-a/changed");
        await _handler.WaitForAsync("added team-a/created");

        Assert.Equal(2, source.Lists);
        Assert.Equal(changed.Metadata.ResourceVersion, informer.Get("team-a", "changed")?.Metadata.ResourceVersion);
        Assert.Equal(["changed", "created"], informer.List("team-a").Select(s => s.Metadata.Name).Order());
    }

    [Fact]
    public async Task Api_errors_on_list_are_retried_until_the_cache_syncs()
    {
        _cluster.Server.Faults.FailNext(3, 500, "secrets", "list");
        await _cluster.CreateSecretAsync("team-a", "one");
        var source = new CountingListWatcher<V1Secret>(ListWatchers.Secrets(_cluster.Client));

        var informer = Start(source, Fast());
        await informer.WaitForCacheSyncAsync(Ct).WaitAsync(Wait.Bound, Ct);

        Assert.Equal(4, source.Lists);
        Assert.NotNull(informer.Get("team-a", "one"));
    }

    [Fact]
    public async Task Resync_redelivers_every_cached_object()
    {
        await _cluster.CreateSecretAsync("team-a", "one");
        await _cluster.CreateSecretAsync("team-a", "two");
        var time = new ObservableTimeProvider();
        var informer = Start(ListWatchers.Secrets(_cluster.Client), new InformerOptions { ResyncPeriod = TimeSpan.FromMinutes(10) }, time);
        await informer.WaitForCacheSyncAsync(Ct).WaitAsync(Wait.Bound, Ct);

        await time.WaitForTimerAsync();
        time.Advance(TimeSpan.FromMinutes(10));

        await Wait.UntilAsync(() => _handler.ResyncCount == 2, () => "both secrets are resynced");
    }

    [Fact]
    public async Task Only_the_configured_namespaces_are_watched()
    {
        await _cluster.CreateNamespaceAsync("elsewhere");
        var informer = Start(ListWatchers.Secrets(_cluster.Client), new InformerOptions { Namespaces = ["team-a", "team-b"], ResyncPeriod = TimeSpan.Zero });
        await informer.WaitForCacheSyncAsync(Ct).WaitAsync(Wait.Bound, Ct);

        await _cluster.CreateSecretAsync("elsewhere", "ignored");
        await _cluster.CreateSecretAsync("team-b", "b");
        await _cluster.CreateSecretAsync("team-a", "a");
        await _handler.WaitForAsync("added team-a/a");
        await _handler.WaitForAsync("added team-b/b");

        Assert.Null(informer.Get("elsewhere", "ignored"));
        Assert.DoesNotContain("added elsewhere/ignored", _handler.Changes);
    }

    [Fact]
    public async Task A_custom_resource_is_listed_and_watched_through_its_group_version_and_plural()
    {
        await Widget.InstallCrdAsync(_cluster.Client);
        await Widget.CreateAsync(_cluster.Client, "team-a", "first", "blue");
        var widgets = new RecordingHandler<Widget>();
        var informer = new ResourceInformer<Widget>(ListWatchers.CustomResource<Widget>(_cluster.Client), new InformerOptions { ResyncPeriod = TimeSpan.Zero });
        informer.AddEventHandler(widgets);
        _run = informer.RunAsync(_stop.Token);
        await informer.WaitForCacheSyncAsync(Ct).WaitAsync(Wait.Bound, Ct);

        await Widget.CreateAsync(_cluster.Client, "team-b", "second", "red");
        await widgets.WaitForAsync("added team-b/second");

        Assert.Equal("blue", informer.Get("team-a", "first")?.Spec.Color);
        Assert.Equal("red", informer.Get("team-b", "second")?.Spec.Color);
    }

    [Fact]
    public async Task A_custom_resource_that_cannot_be_read_is_skipped_and_the_others_still_flow()
    {
        await Widget.InstallCrdAsync(_cluster.Client);
        await Widget.CreateAsync(_cluster.Client, "team-a", "first", "blue");
        await CreateRawWidgetAsync("team-a", "huge", """{"color":"green","size":3000000000}""");
        var widgets = new RecordingHandler<Widget>();
        var informer = new ResourceInformer<Widget>(ListWatchers.CustomResource<Widget>(_cluster.Client), new InformerOptions { ResyncPeriod = TimeSpan.Zero });
        informer.AddEventHandler(widgets);
        _run = informer.RunAsync(_stop.Token);

        // The list holds an object whose size does not fit an int: the cache still syncs without it.
        await informer.WaitForCacheSyncAsync(Ct).WaitAsync(Wait.Bound, Ct);
        Assert.Equal("blue", informer.Get("team-a", "first")?.Spec.Color);
        Assert.Null(informer.Get("team-a", "huge"));

        // On the watch too: an unreadable event is skipped, and the ones after it are delivered.
        await CreateRawWidgetAsync("team-b", "huge-too", """{"size":4000000000}""");
        await Widget.CreateAsync(_cluster.Client, "team-b", "second", "red");
        await widgets.WaitForAsync("added team-b/second");
        Assert.Null(informer.Get("team-b", "huge-too"));
        Assert.Equal("red", informer.Get("team-b", "second")?.Spec.Color);
    }

    private Task CreateRawWidgetAsync(string ns, string name, string specJson) =>
        _cluster.Client.CustomObjects.CreateNamespacedCustomObjectAsync(
            System.Text.Json.JsonDocument.Parse($$"""{"apiVersion":"test.aigateway.dev/v1","kind":"Widget","metadata":{"name":"{{name}}","namespace":"{{ns}}"},"spec":{{specJson}}}""").RootElement,
            "test.aigateway.dev",
            "v1",
            ns,
            "widgets",
            cancellationToken: Ct);

    private static InformerOptions Fast() => new()
    {
        ResyncPeriod = TimeSpan.Zero,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(100),
    };

    private ResourceInformer<V1Secret> Start(IListWatcher<V1Secret> source, InformerOptions? options = null, TimeProvider? time = null)
    {
        var informer = new ResourceInformer<V1Secret>(source, options ?? new InformerOptions { ResyncPeriod = TimeSpan.Zero }, time);
        informer.AddEventHandler(_handler);
        _run = informer.RunAsync(_stop.Token);
        return informer;
    }
}
