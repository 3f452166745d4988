using System.Net.Sockets;
using System.Text;
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

    // A client that reads more slowly than objects change: the server's writes wait for it, the
    // changes queue up, and the watch still ends at its timeout instead of when the changes stop.
    [Fact]
    public async Task A_watch_ends_at_its_timeout_while_changes_come_faster_than_the_client_reads()
    {
        const string bearer = "watch-timeout-test";
        await using var server = await LocalApiServer.StartAsync(new LocalApiServerOptions { BearerToken = bearer }, Token);
        using var client = new Kubernetes(server.CreateClientConfiguration());
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);

        // A small receive buffer read a little at a time: at most 400 KiB a second.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            $"GET /api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=5 HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer {bearer}\r\n\r\n"), Token);
        var reader = Task.Run(
            async () =>
            {
                var buffer = new byte[4096];
                while (await socket.ReceiveAsync(buffer, stop.Token) > 0)
                {
                    await Task.Delay(10, stop.Token);
                }
            },
            stop.Token);

        // The watch opens on no objects, so there is no initial state to deliver whatever the timeout.
        using (var opening = CancellationTokenSource.CreateLinkedTokenSource(Token))
        {
            opening.CancelAfter(TimeSpan.FromSeconds(20));
            while (server.OpenWatchCount == 0)
            {
                await Task.Delay(10, opening.Token);
            }
        }

        // Changes of 16 KiB each, up to 200 a second (about 2 MiB a second here).
        var payload = new string('x', 16 * 1024);
        var created = 0;
        var producer = Task.Run(
            async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    await client.CoreV1.CreateNamespacedConfigMapAsync(
                        new V1ConfigMap { Metadata = new V1ObjectMeta { Name = $"c{created}" }, Data = new Dictionary<string, string> { ["v"] = payload } },
                        "default",
                        cancellationToken: stop.Token);
                    created++;
                    await Task.Delay(5, stop.Token);
                }
            },
            stop.Token);

        // The server's side of the watch: open until the handler returns.
        var closed = false;
        using (var patience = CancellationTokenSource.CreateLinkedTokenSource(Token))
        {
            patience.CancelAfter(TimeSpan.FromSeconds(40));
            try
            {
                while (!closed)
                {
                    closed = server.OpenWatchCount == 0;
                    await Task.Delay(50, patience.Token);
                }
            }
            catch (OperationCanceledException) when (!Token.IsCancellationRequested)
            {
            }
        }

        var stillProducing = !producer.IsCompleted;
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => producer);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reader);

        Assert.True(closed, $"the watch was still open 40 s after it began, with a 5 s timeout ({created} objects created meanwhile)");
        Assert.True(stillProducing, "the changes stopped before the watch ended");
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
