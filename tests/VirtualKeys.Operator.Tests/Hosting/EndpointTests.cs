using System.Net;
using System.Text.Json;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Testing.Metrics;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Hosting;

public sealed class EndpointTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HealthReadinessAndMetrics_AreServed()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "endpoints");
        var op = await env.StartOperatorAsync();
        using var http = new HttpClient { BaseAddress = new Uri(op.App.Urls.First()) };

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/healthz", UriKind.Relative), Ct)).StatusCode);

        var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync(Ct));
        Assert.True(report.RootElement.GetProperty("cachesSynced").GetBoolean());
        Assert.True(report.RootElement.GetProperty("registryReachable").GetBoolean());

        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), Ct);
        Assert.Contains("vk_leader_election_is_leader", metrics, StringComparison.Ordinal);

        // docs/operations.md lists every family the operator serves, and nothing a scrape lacks.
        var served = MetricFamilies.InScrape(metrics, "vk_");
        var documented = MetricFamilies.Documented("vk_").Where(name => !name.StartsWith("vk_sidecar_", StringComparison.Ordinal));
        Assert.Equal(documented.Order(StringComparer.Ordinal), served.Order(StringComparer.Ordinal));

        // ... and each family's samples carry exactly the labels listed for it there.
        var labels = MetricFamilies.LabelsInScrape(metrics, "vk_");
        var documentedLabels = MetricFamilies.DocumentedLabels("vk_");
        Assert.Contains("vk_leader_election_is_leader", labels.Keys);
        Assert.All(labels, family => Assert.True(
            documentedLabels[family.Key].SetEquals(family.Value),
            $"{family.Key} carries {{{string.Join(',', family.Value.Order())}}}, docs/operations.md lists {{{string.Join(',', documentedLabels[family.Key].Order())}}}"));
    }

    [Fact]
    public async Task Readiness_IsFalse_WhenTheRegistryIsUnreachable()
    {
        await using var cluster = await PostgresCluster.StartNewAsync(cancellationToken: Ct);
        await using var env = await OperatorEnvironment.StartAsync(postgres, "readyz", cluster.GetConnectionString());
        var op = await env.StartOperatorAsync();
        using var http = new HttpClient { BaseAddress = new Uri(op.App.Urls.First()) };

        await cluster.StopAsync(Ct);

        await Waits.UntilAsync(
            async () => (await http.GetAsync(new Uri("/readyz", UriKind.Relative), Ct)).StatusCode == HttpStatusCode.ServiceUnavailable,
            "/readyz reports the registry outage");
        var body = await (await http.GetAsync(new Uri("/readyz", UriKind.Relative), Ct)).Content.ReadAsStringAsync(Ct);
        Assert.Contains("\"registryReachable\":false", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readiness_names_a_watched_namespace_the_operator_may_not_list_and_recovers_when_it_may()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "readyz-rbac");

        // As a RoleBinding missing in team-b would: every list of Secrets there is refused.
        env.Server.Faults.FailNext(int.MaxValue, 403, "secrets", "list", "secrets is forbidden: cannot list resource \"secrets\" in the namespace \"team-b\"", "team-b");
        var op = await env.StartOperatorAsync(env.Settings(watchNamespaces: [OperatorEnvironment.Ns, "team-b"]), waitForSync: false);
        using var http = new HttpClient { BaseAddress = new Uri(op.App.Urls.First()) };

        JsonElement waiting = default;
        await Waits.UntilAsync(
            async () =>
            {
                using var response = await http.GetAsync(new Uri("/readyz", UriKind.Relative), Ct);
                using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
                if (response.StatusCode != HttpStatusCode.ServiceUnavailable
                    || !report.RootElement.TryGetProperty("unsyncedCaches", out var unsynced)
                    || unsynced.GetArrayLength() != 1
                    || unsynced[0].GetProperty("lastError").ValueKind != JsonValueKind.String)
                {
                    return false;
                }

                waiting = unsynced[0].Clone();
                return true;
            },
            "/readyz names the namespace it cannot list");
        Assert.Equal("secrets", waiting.GetProperty("kind").GetString());
        Assert.Equal("team-b", waiting.GetProperty("namespace").GetString());
        Assert.Equal("403 Forbidden: secrets is forbidden: cannot list resource \"secrets\" in the namespace \"team-b\"", waiting.GetProperty("lastError").GetString());

        env.Server.Faults.Reset();
        await Waits.UntilAsync(() => op.App.HasSynced, "the caches synced once team-b may be listed");
        using var ready = await http.GetAsync(new Uri("/readyz", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.DoesNotContain("unsyncedCaches", await ready.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }
}
