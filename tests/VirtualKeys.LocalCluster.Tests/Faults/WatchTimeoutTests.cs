using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace VirtualKeys.LocalCluster.Tests.Faults;

/// <summary>
/// A watch's timeout, on servers of their own whose default timeout is set per test (the
/// conformance backends share one server and a real server's default of 30-60 minutes).
/// </summary>
public sealed class WatchTimeoutTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_watch_whose_timeout_passes_before_it_starts_still_sends_the_initial_state()
    {
        await using var server = await LocalApiServer.StartAsync(new LocalApiServerOptions { DefaultWatchTimeout = TimeSpan.FromTicks(1) }, Token);
        using var client = new Kubernetes(server.CreateClientConfiguration());
        await CreateAsync(client, "present");

        var events = await ReadAsync(client, "api/v1/namespaces/default/configmaps?watch=true", until: 1);

        var added = Assert.Single(events);
        Assert.Equal("ADDED", (string?)added["type"]);
        Assert.Equal("present", (string?)added["object"]!["metadata"]!["name"]);
    }

    [Fact]
    public async Task TimeoutSeconds_zero_means_the_server_default_and_does_not_end_the_watch_at_once()
    {
        await using var server = await LocalApiServer.StartAsync(new LocalApiServerOptions { DefaultWatchTimeout = TimeSpan.FromSeconds(20) }, Token);
        using var client = new Kubernetes(server.CreateClientConfiguration());
        await CreateAsync(client, "present");

        var events = await ReadAsync(client, "api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=0", until: 2, afterFirst: () => CreateAsync(client, "later"));

        Assert.Equal(["present", "later"], events.Select(e => (string?)e["object"]!["metadata"]!["name"]));
    }

    private static Task CreateAsync(Kubernetes client, string name) =>
        client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name } }, "default", cancellationToken: Token);

    /// <summary>Reads events until <paramref name="until"/> arrived or the stream ended; <paramref name="afterFirst"/> runs once the first is read.</summary>
    private static async Task<List<JsonNode>> ReadAsync(Kubernetes client, string path, int until, Func<Task>? afterFirst = null)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        using var response = await client.HttpClient.GetAsync(new Uri(client.BaseUri, path), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        var events = new List<JsonNode>();
        while (events.Count < until && await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            events.Add(JsonNode.Parse(line)!);
            if (events.Count == 1 && afterFirst is not null)
            {
                await afterFirst();
            }
        }

        return events;
    }
}
