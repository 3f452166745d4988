using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using VirtualKeys.LocalCluster.Tests.Backends;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public abstract partial class ConformanceSuite<TBackend>
{
    [Fact]
    public async Task CSharp_client_watch_sees_added_modified_and_deleted_custom_resources()
    {
        await using var s = await SessionAsync();
        var list = await s.Client.CustomObjects.ListNamespacedCustomObjectWithHttpMessagesAsync<JsonElement>(TestCrds.Group, TestCrds.Version, s.Namespace, TestCrds.Widgets, cancellationToken: Token);
        var rv = list.Body.GetProperty("metadata").GetProperty("resourceVersion").GetString();
        using var watchCts = CancellationTokenSource.CreateLinkedTokenSource(Token);
        watchCts.CancelAfter(TimeSpan.FromSeconds(30));
        var stream = s.Client.CustomObjects.WatchListNamespacedCustomObjectAsync(TestCrds.Group, TestCrds.Version, s.Namespace, TestCrds.Widgets, resourceVersion: rv, cancellationToken: watchCts.Token);

        var seen = new List<(WatchEventType, string)>();
        var writer = Task.Run(async () =>
        {
            await Task.Delay(200, Token);
            await s.CreateWidgetAsync("watched");
            await s.PatchAsync($"{s.WidgetsPath}/watched", """{"spec":{"color":"blue"}}""");
            await s.SendAsync(HttpMethod.Delete, $"{s.WidgetsPath}/watched");
        }, Token);
        await foreach (var (type, item) in stream)
        {
            if (type == WatchEventType.Bookmark)
            {
                continue;
            }

            var element = Assert.IsType<JsonElement>(item);
            Assert.True(element.TryGetProperty("metadata", out _), $"{type}: {element}");
            seen.Add((type, element.GetProperty("metadata").GetProperty("name").GetString()!));
            if (type == WatchEventType.Deleted)
            {
                break;
            }
        }

        await writer;
        Assert.Equal([(WatchEventType.Added, "watched"), (WatchEventType.Modified, "watched"), (WatchEventType.Deleted, "watched")], seen);
    }

    [Fact]
    public async Task Watch_resumed_from_a_resourceVersion_replays_only_later_changes()
    {
        await using var s = await SessionAsync();
        await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "before" } }, s.Namespace, cancellationToken: Token);
        var mark = await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "mark" } }, s.Namespace, cancellationToken: Token);
        await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "after" } }, s.Namespace, cancellationToken: Token);
        await s.Client.CoreV1.DeleteNamespacedConfigMapAsync("before", s.Namespace, cancellationToken: Token);

        var events = await ReadWatchAsync(s, $"api/v1/namespaces/{s.Namespace}/configmaps?watch=true&resourceVersion={mark.Metadata.ResourceVersion}&timeoutSeconds=2", 2);
        Assert.Equal([("ADDED", "after"), ("DELETED", "before")], events.Select(e => ((string)e["type"]!, (string)e["object"]!["metadata"]!["name"]!)));
    }

    [Fact]
    public async Task Watch_without_resourceVersion_starts_with_the_current_state()
    {
        await using var s = await SessionAsync();
        await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "existing" } }, s.Namespace, cancellationToken: Token);
        var events = await ReadWatchAsync(s, $"api/v1/namespaces/{s.Namespace}/configmaps?watch=true&timeoutSeconds=2", 1);
        Assert.Equal("ADDED", (string?)events[0]["type"]);
        Assert.Equal("existing", (string?)events[0]["object"]!["metadata"]!["name"]);
    }

    [Fact]
    public async Task Watch_with_a_label_selector_sees_an_object_leave_as_DELETED()
    {
        await using var s = await SessionAsync();
        var cm = await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "sel", Labels = new Dictionary<string, string> { ["app"] = "x" } } }, s.Namespace, cancellationToken: Token);
        var watch = ReadWatchAsync(s, $"api/v1/namespaces/{s.Namespace}/configmaps?watch=true&labelSelector=app%3Dx&resourceVersion={cm.Metadata.ResourceVersion}&timeoutSeconds=5", 2);
        await Task.Delay(300, Token);
        await s.PatchAsync($"api/v1/namespaces/{s.Namespace}/configmaps/sel", """{"metadata":{"labels":{"app":"y"}}}""");
        await s.PatchAsync($"api/v1/namespaces/{s.Namespace}/configmaps/sel", """{"metadata":{"labels":{"app":"x"}}}""");
        var events = await watch;
        Assert.Equal(["DELETED", "ADDED"], events.Select(e => (string)e["type"]!));
    }

    [Fact]
    public async Task Watch_with_a_field_selector_on_metadata_name_sees_only_that_object()
    {
        await using var s = await SessionAsync();
        var start = await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "other" } }, s.Namespace, cancellationToken: Token);
        var watch = ReadWatchAsync(s, $"api/v1/namespaces/{s.Namespace}/configmaps?watch=true&fieldSelector=metadata.name%3Dme&resourceVersion={start.Metadata.ResourceVersion}&timeoutSeconds=5", 1);
        await Task.Delay(300, Token);
        await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "not-me" } }, s.Namespace, cancellationToken: Token);
        await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "me" } }, s.Namespace, cancellationToken: Token);
        var events = await watch;
        Assert.Equal("me", (string?)events.Single()["object"]!["metadata"]!["name"]);
    }

    [Fact]
    public async Task Watch_stream_is_newline_delimited_json_and_ends_at_timeoutSeconds()
    {
        await using var s = await SessionAsync();
        await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "framed" } }, s.Namespace, cancellationToken: Token);
        var started = DateTime.UtcNow;
        var response = await s.GetAsync($"api/v1/namespaces/{s.Namespace}/configmaps?watch=true&timeoutSeconds=1");
        var elapsed = DateTime.UtcNow - started;
        Assert.Equal(200, response.Code);
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(20));
        var lines = response.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var first = JsonNode.Parse(lines[0])!;
        Assert.Equal("ADDED", (string?)first["type"]);
        Assert.Equal("ConfigMap", (string?)first["object"]!["kind"]);
        Assert.All(lines, line => Assert.NotNull(JsonNode.Parse(line)!["type"]));
    }

    [Fact]
    public async Task A_watch_that_does_not_allow_bookmarks_receives_none()
    {
        await using var s = await SessionAsync();
        await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "plain" } }, s.Namespace, cancellationToken: Token);
        var response = await s.GetAsync($"api/v1/namespaces/{s.Namespace}/configmaps?watch=true&timeoutSeconds=1");
        Assert.Equal(200, response.Code);
        var types = response.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => (string?)JsonNode.Parse(line)!["type"]);
        Assert.Equal(["ADDED"], types);
    }

    [Fact]
    public async Task Watch_list_sends_initial_events_then_a_bookmark_marking_their_end()
    {
        await using var s = await SessionAsync();
        await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "initial" } }, s.Namespace, cancellationToken: Token);
        var events = await ReadWatchAsync(s, $"api/v1/namespaces/{s.Namespace}/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=5", 2);
        Assert.Equal("ADDED", (string?)events[0]["type"]);
        Assert.Equal("BOOKMARK", (string?)events[1]["type"]);
        Assert.Equal("true", (string?)events[1]["object"]!["metadata"]!["annotations"]!["k8s.io/initial-events-end"]);
        Assert.False(string.IsNullOrEmpty((string?)events[1]["object"]!["metadata"]!["resourceVersion"]));
    }

    /// <summary>Reads watch lines until <paramref name="count"/> non-bookmark events (or any bookmark when asked) arrived, bounded by a timeout.</summary>
    private static async Task<List<JsonNode>> ReadWatchAsync(ClusterSession s, string path, int count)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(s.Client.BaseUri, path));
        using var response = await s.Client.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var events = new List<JsonNode>();
        var wantBookmarks = path.Contains("sendInitialEvents=true", StringComparison.Ordinal);
        while (events.Count < count && await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            var node = JsonNode.Parse(line)!;
            if ((string?)node["type"] == "BOOKMARK" && !wantBookmarks)
            {
                continue;
            }

            events.Add(node);
        }

        return events;
    }
}
