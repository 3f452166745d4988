using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using VirtualKeys.MockProvider;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Tests.Support;

/// <summary>
/// A sidecar on a free loopback port with a fake clock, an in-memory key source and usage sink, and a
/// mock provider behind it: the whole request path over real HTTP.
/// </summary>
internal sealed class TestSidecar : IAsyncDisposable
{
    /// <summary>A Monday, 10:00:15 UTC: fifteen seconds into a minute window.</summary>
    public static readonly DateTimeOffset Start = new(2026, 1, 5, 10, 0, 15, TimeSpan.Zero);

    private TestSidecar(SidecarHost host, MockLlmProvider upstream, InMemoryKeySnapshotSource keys, InMemoryUsageSink usage, FakeTimeProvider time, CapturedLogs logs)
    {
        Host = host;
        Upstream = upstream;
        Keys = keys;
        Usage = usage;
        Time = time;
        Logs = logs;
        Client = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public SidecarHost Host { get; }

    public MockLlmProvider Upstream { get; }

    public InMemoryKeySnapshotSource Keys { get; }

    public InMemoryUsageSink Usage { get; }

    public FakeTimeProvider Time { get; }

    public CapturedLogs Logs { get; }

    public HttpClient Client { get; }

    public IQuotaStore Quota => Host.App.Services.GetRequiredService<IQuotaStore>();

    public static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>The test's token, also cancelled after <paramref name="limit"/>: for reads no HttpClient timeout covers.</summary>
    public static CancellationTokenSource Within(TimeSpan limit)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        source.CancelAfter(limit);
        return source;
    }

    /// <param name="verboseFramework">Log ASP.NET Core, YARP and HttpClient at Trace too, overriding the sidecar's own filters.</param>
    public static async Task<TestSidecar> StartAsync(
        Action<SidecarOptions>? configure = null,
        InMemoryKeySnapshotSource? keys = null,
        bool waitForSnapshot = true,
        bool verboseFramework = false)
    {
        // Every record is written as soon as it is queued, since the clock only moves when a test moves
        // it; the flush policy's own tests set UsageBatchSize and UsageFlushInterval.
        var options = new SidecarOptions { Port = 0, DefaultMaxOutputTokens = 100, UsageBatchSize = 1 };
        configure?.Invoke(options);
        var time = new FakeTimeProvider(Start);
        var logs = new CapturedLogs();
        var usage = new InMemoryUsageSink();
        keys ??= new InMemoryKeySnapshotSource();
        var upstream = await MockLlmProvider.StartAsync(cancellationToken: Cancel);
        try
        {
            var host = await SidecarHost.StartAsync(
                options,
                keys,
                usage,
                time,
                builder =>
                {
                    builder.Logging.SetMinimumLevel(LogLevel.Trace);
                    builder.Logging.AddProvider(logs);
                    if (verboseFramework)
                    {
                        foreach (var category in new[] { "Microsoft.AspNetCore", "System.Net.Http" })
                        {
                            builder.Logging.AddFilter(category, LogLevel.Trace);
                        }
                    }
                },
                waitForSnapshot,
                Cancel);
            return new TestSidecar(host, upstream, keys, usage, time, logs);
        }
        catch
        {
            await upstream.DisposeAsync();
            throw;
        }
    }

    /// <summary>A key served by the mock provider (OpenAI shape unless providers are given), installed and applied.</summary>
    public async Task<(VirtualKeyEntry Entry, string Token)> AddKeyAsync(
        string name = "app",
        Func<VirtualKeyEntry, VirtualKeyEntry>? customize = null,
        IReadOnlyList<ProviderEntry>? providers = null)
    {
        var key = TestKeys.Create(name, providers ?? [TestKeys.OpenAI(Upstream.OpenAIBaseUrl)], customize);
        await Keys.UpsertAsync(key.Entry, Cancel);
        return key;
    }

    public Task<HttpResponseMessage> ResolveAsync(string? token, string? model = null, long? estimatedInputTokens = null, long? maxOutputTokens = null)
    {
        var body = new JsonObject();
        if (token is not null)
        {
            body["virtualKey"] = token;
        }

        if (model is not null)
        {
            body["model"] = model;
        }

        if (estimatedInputTokens is not null)
        {
            body["estimatedInputTokens"] = estimatedInputTokens;
        }

        if (maxOutputTokens is not null)
        {
            body["maxOutputTokens"] = maxOutputTokens;
        }

        return Client.PostAsync("/v1/resolve", Json(body), Cancel);
    }

    public Task<HttpResponseMessage> ReportAsync(string decisionId, long inputTokens, long outputTokens, object? status = null)
    {
        var body = new JsonObject
        {
            ["decisionId"] = decisionId,
            ["inputTokens"] = inputTokens,
            ["outputTokens"] = outputTokens,
            ["status"] = status is int code ? JsonValue.Create(code) : JsonValue.Create(status as string ?? "success"),
            ["latencyMs"] = 12.5,
        };
        return Client.PostAsync("/v1/usage", Json(body), Cancel);
    }

    /// <summary>POST to a proxy route with the key in the header an SDK would use.</summary>
    public Task<HttpResponseMessage> ProxyAsync(string path, string? token, JsonObject body, bool anthropicHeader = false, Action<HttpRequestMessage>? customize = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) };
        if (token is not null)
        {
            if (anthropicHeader)
            {
                request.Headers.Add("x-api-key", token);
            }
            else
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
        }

        customize?.Invoke(request);
        return Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancel);
    }

    public Task<IReadOnlyList<UsageRecord>> WaitForUsageAsync(Func<IReadOnlyList<UsageRecord>, bool> condition) =>
        WaitForUsageCoreAsync(condition);

    public async Task<string> MetricsAsync() => await Client.GetStringAsync("/metrics", Cancel);

    public static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(Cancel);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
        await Upstream.DisposeAsync();
    }

    private async Task<IReadOnlyList<UsageRecord>> WaitForUsageCoreAsync(Func<IReadOnlyList<UsageRecord>, bool> condition)
    {
        using var timeout = Within(TimeSpan.FromSeconds(20));
        await Usage.WaitForAsync(condition, timeout.Token);
        return Usage.Records;
    }
}
