using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using VirtualKeys.Operator.Runtime.Informers;
using VirtualKeys.Operator.Tests.Runtime.Support;
using VirtualKeys.Testing;

namespace VirtualKeys.Operator.Tests.Runtime.Informers;

/// <summary>
/// The informer's own logic over a scripted list/watch source and a fake clock: what it caches,
/// what it tells handlers, when it resumes, relists and backs off.
/// </summary>
public sealed class ResourceInformerTests : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ScriptedListWatcher<V1Secret> _source = new();
    private readonly ObservableTimeProvider _time = new();
    private readonly RecordingHandler<V1Secret> _handler = new();
    private Task _run = Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);
        _stop.Dispose();
    }

    [Fact]
    public async Task The_first_list_fills_the_cache_and_reaches_handlers_as_adds()
    {
        _source.OnList = _ => new ResourceList<V1Secret>([Objects.Secret("a", "one", "3"), Objects.Secret("b", "two", "4")], "10");

        var informer = Start();
        await informer.WaitForCacheSyncAsync(TestContext.Current.CancellationToken).WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);

        Assert.True(informer.HasSynced);
        Assert.Equal(2, informer.Count);
        Assert.Equal("3", informer.Get("a", "one")?.Metadata.ResourceVersion);
        Assert.Null(informer.Get("a", "two"));
        Assert.Equal(["added a/one@3", "added b/two@4"], _handler.Events.Order());
        Assert.Equal("10", (await _source.NextWatchAsync()).ResourceVersion);
    }

    [Fact]
    public async Task Watch_events_update_the_cache_and_reach_handlers_in_order()
    {
        _source.OnList = _ => new ResourceList<V1Secret>([Objects.Secret("a", "one", "3")], "10");
        var informer = Start();
        var watch = await _source.NextWatchAsync();

        watch.Send(WatchEventType.Added, Objects.Secret("a", "two", "11"));
        watch.Send(WatchEventType.Modified, Objects.Secret("a", "one", "12"));
        watch.Send(WatchEventType.Deleted, Objects.Secret("a", "two", "13"));
        await _handler.WaitForCountAsync(4);

        Assert.Equal(["added a/one@3", "added a/two@11", "updated a/one@3->12", "deleted a/two@13"], _handler.Events);
        Assert.Equal("12", informer.Get("a", "one")?.Metadata.ResourceVersion);
        Assert.Null(informer.Get("a", "two"));
        Assert.Single(informer.List("a"));
    }

    [Fact]
    public async Task A_closed_watch_resumes_from_the_last_version_seen_without_relisting()
    {
        _source.OnList = _ => new ResourceList<V1Secret>([], "10");
        Start();
        var first = await _source.NextWatchAsync();

        first.Send(WatchEventType.Added, Objects.Secret("a", "one", "11"));
        first.Send(WatchEventType.Bookmark, Objects.Secret("", "", "15"));
        first.Close();
        var second = await _source.NextWatchAsync();

        Assert.Equal("15", second.ResourceVersion);
        Assert.Single(_source.ListCalls);
    }

    [Fact]
    public async Task An_expired_version_relists_and_hands_over_what_changed_meanwhile()
    {
        var listed = 0;
        _source.OnList = _ => Interlocked.Increment(ref listed) == 1
            ? new ResourceList<V1Secret>([Objects.Secret("a", "kept", "1"), Objects.Secret("a", "changed", "2"), Objects.Secret("a", "removed", "3")], "10")
            : new ResourceList<V1Secret>([Objects.Secret("a", "kept", "1"), Objects.Secret("a", "changed", "20"), Objects.Secret("a", "created", "21")], "30");
        var informer = Start();
        var watch = await _source.NextWatchAsync();

        watch.Fail(new KubernetesException(new V1Status { Code = 410, Reason = "Expired", Message = "too old resource version" }));
        var resumed = await _source.NextWatchAsync();

        Assert.Equal("30", resumed.ResourceVersion);
        Assert.Equal(2, _source.ListCalls.Count);
        Assert.Equal(
            ["added a/changed@2", "added a/created@21", "added a/kept@1", "added a/removed@3", "deleted a/removed@3", "updated a/changed@2->20"],
            _handler.Events.Order());
        Assert.Equal(["changed", "created", "kept"], informer.List().Select(s => s.Metadata.Name).Order());
    }

    [Fact]
    public async Task An_http_410_on_the_watch_request_relists_too()
    {
        _source.OnList = _ => new ResourceList<V1Secret>([], "10");
        Start();
        var watch = await _source.NextWatchAsync();

        watch.Fail(HttpError(HttpStatusCode.Gone));
        await _source.NextWatchAsync();

        Assert.Equal(2, _source.ListCalls.Count);
    }

    [Fact]
    public async Task Failed_lists_back_off_exponentially_up_to_the_cap()
    {
        var failures = 4;
        _source.OnList = _ => Interlocked.Decrement(ref failures) >= 0
            ? throw HttpError(HttpStatusCode.InternalServerError)
            : new ResourceList<V1Secret>([], "10");
        var informer = Start(new InformerOptions { RetryBaseDelay = TimeSpan.FromSeconds(1), RetryMaxDelay = TimeSpan.FromSeconds(4), ResyncPeriod = TimeSpan.Zero });

        TimeSpan[] expected = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(4)];
        for (var attempt = 0; attempt < expected.Length; attempt++)
        {
            await _time.WaitForTimerAsync();
            _time.Advance(expected[attempt] - TimeSpan.FromTicks(1));
            Assert.Equal(attempt + 1, _source.ListCalls.Count);

            _time.Advance(TimeSpan.FromTicks(1));
            await _source.WaitForListCallsAsync(attempt + 2);
        }

        await informer.WaitForCacheSyncAsync(TestContext.Current.CancellationToken).WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_failed_watch_resumes_from_its_version_after_the_backoff()
    {
        _source.OnList = _ => new ResourceList<V1Secret>([], "10");
        Start(new InformerOptions { RetryBaseDelay = TimeSpan.FromSeconds(1), ResyncPeriod = TimeSpan.Zero });
        var watch = await _source.NextWatchAsync();
        watch.Send(WatchEventType.Added, Objects.Secret("a", "one", "11"));
        await _handler.WaitForCountAsync(1);

        watch.Fail(new HttpRequestException("Connection refused"));
        await _time.WaitForTimerAsync();
        _time.Advance(TimeSpan.FromSeconds(1));
        var resumed = await _source.NextWatchAsync();

        Assert.Equal("11", resumed.ResourceVersion);
        Assert.Single(_source.ListCalls);
    }

    [Fact]
    public async Task A_watch_the_server_ends_at_once_with_nothing_in_it_is_retried_after_a_backoff()
    {
        _source.OnList = _ => new ResourceList<V1Secret>([], "10");
        Start(new InformerOptions { RetryBaseDelay = TimeSpan.FromSeconds(1), ResyncPeriod = TimeSpan.Zero });
        var watch = await _source.NextWatchAsync();

        watch.Close();
        await _time.WaitForTimerAsync();
        var reopened = _source.NextWatchAsync();
        Assert.False(reopened.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("10", (await reopened).ResourceVersion);
    }

    [Fact]
    public async Task Resync_delivers_every_cached_object_again_as_an_update_of_itself()
    {
        _source.OnList = _ => new ResourceList<V1Secret>([Objects.Secret("a", "one", "1"), Objects.Secret("a", "two", "2")], "10");
        var informer = Start(new InformerOptions { ResyncPeriod = TimeSpan.FromMinutes(1) });
        await informer.WaitForCacheSyncAsync(TestContext.Current.CancellationToken).WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);

        await _time.WaitForTimerAsync();
        _time.Advance(TimeSpan.FromMinutes(1));
        await _handler.WaitForCountAsync(4);

        Assert.Equal(2, _handler.ResyncCount);
        Assert.Contains("updated a/one@1->1", _handler.Events);
        Assert.Contains("updated a/two@2->2", _handler.Events);
    }

    [Fact]
    public async Task Listed_namespaces_each_get_their_own_list_and_watch()
    {
        _source.OnList = ns => new ResourceList<V1Secret>([Objects.Secret(ns!, "s", "1")], "10");
        var informer = Start(new InformerOptions { Namespaces = ["team-a", "team-b"], ResyncPeriod = TimeSpan.Zero });

        await informer.WaitForCacheSyncAsync(TestContext.Current.CancellationToken).WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);
        var watches = new[] { await _source.NextWatchAsync(), await _source.NextWatchAsync() };

        Assert.Equal(["team-a", "team-b"], _source.ListCalls.Order());
        Assert.Equal(["team-a", "team-b"], watches.Select(w => w.Namespace).Order());
        Assert.Equal(2, informer.Count);
    }

    [Fact]
    public async Task A_relist_of_one_namespace_deletes_nothing_in_another()
    {
        var teamALists = 0;
        _source.OnList = ns => ns == "team-a" && Interlocked.Increment(ref teamALists) > 1
            ? new ResourceList<V1Secret>([], "20")
            : new ResourceList<V1Secret>([Objects.Secret(ns!, "s", "1")], "10");
        var informer = Start(new InformerOptions { Namespaces = ["team-a", "team-b"], ResyncPeriod = TimeSpan.Zero });
        var watches = new[] { await _source.NextWatchAsync(), await _source.NextWatchAsync() };

        watches.Single(w => w.Namespace == "team-a").Fail(new KubernetesException(new V1Status { Code = 410 }));
        await _handler.WaitForCountAsync(3);

        Assert.Equal("deleted team-a/s@1", _handler.Events[^1]);
        Assert.NotNull(informer.Get("team-b", "s"));
        Assert.Null(informer.Get("team-a", "s"));
    }

    [Fact]
    public async Task A_namespace_that_cannot_be_listed_is_named_with_the_servers_reason_until_it_lists()
    {
        var refusals = 2;
        _source.OnList = ns => ns == "team-b" && Interlocked.Decrement(ref refusals) >= 0
            ? throw HttpError(HttpStatusCode.Forbidden, """{"kind":"Status","status":"Failure","message":"secrets is forbidden: User \"system:serviceaccount:vk:operator\" cannot list resource \"secrets\" in API group \"\" in the namespace \"team-b\"","reason":"Forbidden","code":403}""")
            : new ResourceList<V1Secret>([], "10");
        var informer = Start(new InformerOptions { Namespaces = ["team-a", "team-b"], RetryBaseDelay = TimeSpan.FromSeconds(1), ResyncPeriod = TimeSpan.Zero });
        await _source.WaitForListCallsAsync(2);
        await _time.WaitForTimerAsync();

        Assert.False(informer.HasSynced);
        var waiting = Assert.Single(informer.Unsynced);
        Assert.Equal("scripted", waiting.Kind);
        Assert.Equal("team-b", waiting.Namespace);
        Assert.Equal(
            "403 Forbidden: secrets is forbidden: User \"system:serviceaccount:vk:operator\" cannot list resource \"secrets\" in API group \"\" in the namespace \"team-b\"",
            waiting.LastError);

        // The RoleBinding arrives: the next lists succeed and nothing is left waiting.
        _time.Advance(TimeSpan.FromSeconds(1));
        await _time.WaitForTimerAsync();
        _time.Advance(TimeSpan.FromSeconds(2));
        await informer.WaitForCacheSyncAsync(TestContext.Current.CancellationToken).WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);

        Assert.Empty(informer.Unsynced);
    }

    [Fact]
    public void Before_it_runs_an_informer_waits_for_every_namespace_with_no_error_yet()
    {
        var informer = new ResourceInformer<V1Secret>(_source, new InformerOptions { Namespaces = ["team-a", "team-b"] }, _time);

        Assert.Equal([new UnsyncedScope("scripted", "team-a", null), new UnsyncedScope("scripted", "team-b", null)], informer.Unsynced);
    }

    [Fact]
    public async Task A_handler_added_late_first_receives_the_cached_objects_as_adds()
    {
        _source.OnList = _ => new ResourceList<V1Secret>([Objects.Secret("a", "one", "1")], "10");
        var informer = Start();
        await informer.WaitForCacheSyncAsync(TestContext.Current.CancellationToken).WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);

        var late = new RecordingHandler<V1Secret>();
        informer.AddEventHandler(late);

        Assert.Equal(["added a/one@1"], late.Events);
    }

    [Fact]
    public async Task A_throwing_handler_neither_stops_the_cache_nor_the_other_handlers()
    {
        _source.OnList = _ => new ResourceList<V1Secret>([], "10");
        var informer = new ResourceInformer<V1Secret>(_source, new InformerOptions { ResyncPeriod = TimeSpan.Zero }, _time);
        informer.AddEventHandler(new ResourceEventHandler<V1Secret>(onAdded: _ => throw new InvalidOperationException("handler bug")));
        informer.AddEventHandler(_handler);
        _run = informer.RunAsync(_stop.Token);
        var watch = await _source.NextWatchAsync();

        watch.Send(WatchEventType.Added, Objects.Secret("a", "one", "11"));
        watch.Send(WatchEventType.Added, Objects.Secret("a", "two", "12"));
        await _handler.WaitForCountAsync(2);

        Assert.Equal(2, informer.Count);
    }

    [Fact]
    public async Task Cancelling_ends_the_run_without_an_exception()
    {
        _source.OnList = _ => new ResourceList<V1Secret>([], "10");
        var calls = new CountingListWatcher<V1Secret>(_source);
        var informer = new ResourceInformer<V1Secret>(calls, new InformerOptions { ResyncPeriod = TimeSpan.Zero }, _time);
        informer.AddEventHandler(_handler);
        _run = informer.RunAsync(_stop.Token);
        await _source.NextWatchAsync();

        await _stop.CancelAsync();
        var error = await Record.ExceptionAsync(() => _run.WaitAsync(Wait.Bound, TestContext.Current.CancellationToken));

        // The run ended, neither faulted nor cancelled, and its open watch ending on the way out was
        // not taken for a closed watch to resume or a failure to relist after.
        Assert.True(_run.IsCompletedSuccessfully, $"the run did not end cleanly ({_run.Status}): {error}");
        Assert.Equal(1, calls.Lists);
        Assert.Equal(["10"], calls.WatchVersions);
    }

    private static HttpOperationException HttpError(HttpStatusCode status, string body = "") => new($"HTTP {(int)status}")
    {
        Response = new HttpResponseMessageWrapper(new HttpResponseMessage(status), body),
    };

    private ResourceInformer<V1Secret> Start(InformerOptions? options = null)
    {
        var informer = new ResourceInformer<V1Secret>(_source, options ?? new InformerOptions { ResyncPeriod = TimeSpan.Zero }, _time);
        informer.AddEventHandler(_handler);
        _run = informer.RunAsync(_stop.Token);
        return informer;
    }
}
