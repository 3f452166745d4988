using System.Net;
using System.Text.Json.Nodes;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Sidecar.Tests.Support;
using VirtualKeys.Testing.Metrics;

namespace VirtualKeys.Sidecar.Tests.Hosting;

public sealed class ObservabilityTests
{
    private static readonly JsonObject Chat = new() { ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "count these four" }) };

    [Fact]
    public async Task Healthz_answers_ok()
    {
        await using var sidecar = await TestSidecar.StartAsync();

        using var response = await sidecar.Client.GetAsync("/healthz", TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", (await TestSidecar.ReadJsonAsync(response)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Metrics_count_requests_tokens_cost_and_rejections_per_key_and_model()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync("shop", customize: e => e.With(defaultModel: "gpt-4o", limits: new KeyLimits(RequestsPerMinute: 1)));

        using (var ok = await sidecar.ProxyAsync("/v1/chat/completions", token, (JsonObject)Chat.DeepClone()))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var limited = await sidecar.ProxyAsync("/v1/chat/completions", token, (JsonObject)Chat.DeepClone()))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        }

        await sidecar.WaitForUsageAsync(r => r.Count > 0);
        var metrics = await sidecar.MetricsAsync();

        Assert.Contains("vk_sidecar_requests_total{key=\"team-a/shop\",model=\"gpt-4o\",outcome=\"success\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_tokens_total{key=\"team-a/shop\",model=\"gpt-4o\",direction=\"input\"} 3", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_cost_usd_total{key=\"team-a/shop\",model=\"gpt-4o\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_rejections_total{key=\"team-a/shop\",reason=\"rate_limit_rpm\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_upstream_duration_seconds_count{provider_type=\"OpenAI\",status=\"2xx\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_snapshot_keys 1", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_snapshot_age_seconds 0", metrics, StringComparison.Ordinal);
        Assert.Contains($"vk_sidecar_usage_buffer_capacity {new SidecarOptions().UsageBufferCapacity}", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_degraded{component=\"snapshot_source\"} 0", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_name_a_client_makes_up_is_labelled_as_the_price_it_matched_never_as_written()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();

        // Dated snapshots are priced, and labelled, as their model; any other tail is another model.
        foreach (var made in new[] { "gpt-4o-2031-01-01", "gpt-4o-20320202", "gpt-4o-madeupQ1x", "gpt-4o-madeupQ2y" })
        {
            using var resolve = await sidecar.ResolveAsync(token, made);
            Assert.Equal(HttpStatusCode.OK, resolve.StatusCode);
            var decision = (await TestSidecar.ReadJsonAsync(resolve)).GetProperty("decisionId").GetString()!;
            using var report = await sidecar.ReportAsync(decision, 10, 10);
            Assert.Equal(HttpStatusCode.OK, report.StatusCode);
        }

        var metrics = await sidecar.MetricsAsync();

        Assert.DoesNotContain("madeup", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("gpt-4o-20", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_requests_total{key=\"team-a/app\",model=\"gpt-4o\",outcome=\"success\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_requests_total{key=\"team-a/app\",model=\"other\",outcome=\"success\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_unpriced_model_requests_total{model=\"other\"} 2", metrics, StringComparison.Ordinal);
    }

    // docs/operations.md is where an operator of the sidecar looks a series up: every family the sidecar
    // serves is there, and nothing there is missing from a scrape.
    [Fact]
    public async Task Every_sidecar_metric_is_documented_and_every_documented_one_is_served()
    {
        await using var sidecar = await TestSidecar.StartAsync();

        var served = MetricFamilies.InScrape(await sidecar.MetricsAsync(), "vk_sidecar_");
        var documented = MetricFamilies.Documented("vk_sidecar_");

        Assert.NotEmpty(served);
        Assert.Equal(documented.Order(StringComparer.Ordinal), served.Order(StringComparer.Ordinal));
    }

    // Alerts and dashboards group by label names: each family's samples carry exactly the labels
    // docs/operations.md lists for it (key included while per-key labels are on, as by default).
    [Fact]
    public async Task Every_sidecar_series_carries_the_labels_documented_for_its_metric()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync("shop", customize: e => e.With(defaultModel: "gpt-4o", limits: new KeyLimits(RequestsPerMinute: 1)));
        using (var served = await sidecar.ProxyAsync("/v1/chat/completions", token, (JsonObject)Chat.DeepClone()))
        using (var limited = await sidecar.ProxyAsync("/v1/chat/completions", token, (JsonObject)Chat.DeepClone()))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        }

        var (_, other) = await sidecar.AddKeyAsync("lab");
        using (var unpriced = await sidecar.ResolveAsync(other, "made-up-model-12345"))
        {
            Assert.Equal(HttpStatusCode.OK, unpriced.StatusCode);
        }

        await sidecar.WaitForUsageAsync(r => r.Count > 0);

        var labels = MetricFamilies.LabelsInScrape(await sidecar.MetricsAsync(), "vk_sidecar_");
        var documented = MetricFamilies.DocumentedLabels("vk_sidecar_");

        Assert.Superset(
            new HashSet<string>(["vk_sidecar_requests_total", "vk_sidecar_tokens_total", "vk_sidecar_cost_usd_total", "vk_sidecar_rejections_total",
                "vk_sidecar_upstream_duration_seconds", "vk_sidecar_resolve_duration_seconds", "vk_sidecar_unpriced_model_requests_total", "vk_sidecar_degraded"]),
            labels.Keys.ToHashSet());
        Assert.All(labels, family => Assert.True(
            documented[family.Key].SetEquals(family.Value),
            $"{family.Key} carries {{{string.Join(',', family.Value.Order())}}}, docs/operations.md lists {{{string.Join(',', documented[family.Key].Order())}}}"));
    }

    [Fact]
    public async Task Metrics_include_the_process_cpu_memory_and_collections()
    {
        await using var sidecar = await TestSidecar.StartAsync();

        var metrics = await sidecar.MetricsAsync();

        Assert.True(MetricFamilies.Sample(metrics, "process_cpu_seconds_total") > 0, "process_cpu_seconds_total");
        Assert.True(MetricFamilies.Sample(metrics, "process_working_set_bytes") > 1024 * 1024, "process_working_set_bytes");
        Assert.True(MetricFamilies.Sample(metrics, "process_num_threads") >= 1, "process_num_threads");
        Assert.Contains("dotnet_collection_count_total{generation=\"0\"}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resolve_latency_is_a_histogram()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();

        using var response = await sidecar.ResolveAsync(token, "gpt-4o");

        var metrics = await sidecar.MetricsAsync();

        // Unlabelled: the Prometheus Operator adds a target label "endpoint" (the port's name), which a
        // label of the sidecar's own by that name would collide with.
        Assert.Contains("vk_sidecar_resolve_duration_seconds_count 1", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_resolve_duration_seconds_bucket{le=", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Per_key_labels_can_be_turned_off()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => o.PerKeyMetricLabels = false);
        var (_, token) = await sidecar.AddKeyAsync("quiet", customize: e => e.With(defaultModel: "gpt-4o"));

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, (JsonObject)Chat.DeepClone());
        await sidecar.WaitForUsageAsync(r => r.Count > 0);
        var metrics = await sidecar.MetricsAsync();

        Assert.Contains("vk_sidecar_requests_total{model=\"gpt-4o\",outcome=\"success\"} 1", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("team-a/quiet", metrics, StringComparison.Ordinal);
        Assert.All(MetricFamilies.LabelsInScrape(metrics, "vk_sidecar_"), family => Assert.DoesNotContain("key", family.Value));
    }

    [Fact]
    public async Task Keys_beyond_the_per_key_series_limit_count_under_other()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => o.PerKeyMetricKeyLimit = 1);
        var (_, first) = await sidecar.AddKeyAsync("first", customize: e => e.With(defaultModel: "gpt-4o"));
        var (_, second) = await sidecar.AddKeyAsync("second", customize: e => e.With(defaultModel: "gpt-4o"));
        var (_, third) = await sidecar.AddKeyAsync("third", customize: e => e.With(defaultModel: "gpt-4o"));

        foreach (var token in new[] { first, second, third, first })
        {
            using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, (JsonObject)Chat.DeepClone());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await sidecar.WaitForUsageAsync(r => r.Count >= 4);
        var metrics = await sidecar.MetricsAsync();

        Assert.Contains("vk_sidecar_requests_total{key=\"team-a/first\",model=\"gpt-4o\",outcome=\"success\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_requests_total{key=\"(other)\",model=\"gpt-4o\",outcome=\"success\"} 2", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("team-a/second", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("team-a/third", metrics, StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_metric_labelled_keys 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unpriced_model_is_counted_and_priced_by_the_default()
    {
        await using var sidecar = await TestSidecar.StartAsync(o =>
        {
            o.UnknownModelInputPerMillionUsd = 1_000_000m;
            o.UnknownModelOutputPerMillionUsd = 0m;
        });
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(allowedModels: ["house-model-7b", "other-house-model"]));

        using var resolve = await sidecar.ResolveAsync(token, "house-model-7b");
        using var report = await sidecar.ReportAsync((await TestSidecar.ReadJsonAsync(resolve)).GetProperty("decisionId").GetString()!, 3, 100);

        Assert.Equal(3m, (await TestSidecar.ReadJsonAsync(report)).GetProperty("costUsd").GetDecimal());
        Assert.Contains("vk_sidecar_unpriced_model_requests_total{model=\"house-model-7b\"} 1", await sidecar.MetricsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_chosen_model_names_the_key_does_not_know_are_labelled_other()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();

        using var response = await sidecar.ResolveAsync(token, "made-up-model-12345");

        var metrics = await sidecar.MetricsAsync();
        Assert.Contains("vk_sidecar_unpriced_model_requests_total{model=\"other\"} 1", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("made-up-model-12345", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broken_snapshot_source_leaves_the_sidecar_serving_and_degraded_until_it_resubscribes()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();

        sidecar.Keys.BreakSubscriptions();
        var degraded = await ReadyzUntilAsync(sidecar, "degraded");
        using var stillServing = await sidecar.ResolveAsync(token, "gpt-4o");

        Assert.Equal(HttpStatusCode.OK, stillServing.StatusCode);
        Assert.True(degraded.GetProperty("snapshotSourceDegraded").GetBoolean());
        Assert.Contains("vk_sidecar_degraded{component=\"snapshot_source\"} 1", await sidecar.MetricsAsync(), StringComparison.Ordinal);

        // The retry waits on the sidecar's clock.
        sidecar.Time.Advance(TimeSpan.FromSeconds(1));
        var recovered = await ReadyzUntilAsync(sidecar, "ready");
        Assert.False(recovered.GetProperty("snapshotSourceDegraded").GetBoolean());
        Assert.Equal(1, sidecar.Keys.SubscriberCount);
    }

    [Fact]
    public async Task Snapshot_age_grows_until_the_source_confirms_it()
    {
        await using var sidecar = await TestSidecar.StartAsync();

        sidecar.Time.Advance(TimeSpan.FromSeconds(42));
        using (var stale = await sidecar.Client.GetAsync("/readyz", TestSidecar.Cancel))
        {
            Assert.Equal(42, (await TestSidecar.ReadJsonAsync(stale)).GetProperty("snapshotAgeSeconds").GetDouble());
        }

        await sidecar.Keys.HeartbeatAsync(TestSidecar.Cancel);
        using var fresh = await sidecar.Client.GetAsync("/readyz", TestSidecar.Cancel);
        Assert.Equal(0, (await TestSidecar.ReadJsonAsync(fresh)).GetProperty("snapshotAgeSeconds").GetDouble());
    }

    private static async Task<System.Text.Json.JsonElement> ReadyzUntilAsync(TestSidecar sidecar, string status)
    {
        using var bounded = TestSidecar.Within(TimeSpan.FromSeconds(20));
        while (true)
        {
            using var response = await sidecar.Client.GetAsync("/readyz", bounded.Token);
            var body = await TestSidecar.ReadJsonAsync(response);
            if (body.GetProperty("status").GetString() == status)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                return body;
            }

            await Task.Delay(20, bounded.Token);
        }
    }
}
