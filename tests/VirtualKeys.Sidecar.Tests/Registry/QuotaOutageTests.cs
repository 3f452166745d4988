using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Testing.Postgres;
using RegistryKeyBudget = VirtualKeys.Registry.Keys.KeyBudget;
using RegistryKeyLimits = VirtualKeys.Registry.Keys.KeyLimits;

namespace VirtualKeys.Sidecar.Tests.Registry;

/// <summary>Shared quotas while PostgreSQL is away, on a private cluster so killing it disturbs no other test.</summary>
public sealed class QuotaOutageTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 10, 0, 15, TimeSpan.Zero);

    /// <summary>A ten-dollar budget, each request estimated at a dollar.</summary>
    private static readonly QuotaDemand TenDollarBudget =
        new(new KeyLimits(), new KeyBudget(10m, VirtualKeys.Sidecar.Snapshot.BudgetPeriod.Total), 0, 1m);
    private readonly string _kekPath = Path.Combine(Path.GetTempPath(), "vk-kek-quota-outage-" + Guid.NewGuid().ToString("N"));
    private PostgresCluster? _cluster;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private PostgresCluster Cluster => _cluster ?? throw new InvalidOperationException("Not started.");

    public async ValueTask InitializeAsync()
    {
        KeyEncryptionKey.WriteNewFile(_kekPath);
        _cluster = await PostgresCluster.StartNewAsync(cancellationToken: Cancel);
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        File.Delete(_kekPath);
    }

    [Fact]
    public async Task While_PostgreSQL_is_down_a_replica_admits_its_share_and_the_use_is_charged_when_it_is_back()
    {
        await using var database = await MigratedDatabaseAsync();
        var ledger = new QuotaLedger(database);
        var time = new FakeTimeProvider(Start);
        await using var cutOff = new SharedQuotaStore(ledger, new QuotaOptions { ReplicaId = "cut-off" }, time);
        await using var second = new SharedQuotaStore(ledger, new QuotaOptions { ReplicaId = "second" }, time);
        await using var third = new SharedQuotaStore(ledger, new QuotaOptions { ReplicaId = "third" }, time);
        // Twice: the first to learn of the others takes one round of heartbeats.
        foreach (var store in new[] { cutOff, second, third, cutOff })
        {
            await store.HeartbeatNowAsync(Cancel);
        }

        var demand = new QuotaDemand(new KeyLimits(RequestsPerMinute: 600), null, 0, 0m);
        await Cluster.KillAsync(Cancel);
        var duringOutage = await AdmitUntilRefusedAsync(cutOff, "key-1", demand);
        var health = cutOff.Health;

        await Cluster.StartAsync(Cancel);
        await RecoverAsync(cutOff);
        await RecoverAsync(second);
        time.Advance(TimeSpan.FromSeconds(6));
        await cutOff.ReturnIdleNowAsync(Cancel);
        var afterwards = await AdmitUntilRefusedAsync(second, "key-1", demand) + await AdmitUntilRefusedAsync(third, "key-1", demand);

        Assert.True(health.Degraded);
        Assert.Equal(3, health.LiveReplicas);
        Assert.Equal(200, duringOutage);
        Assert.Equal(400, afterwards);
    }

    [Fact]
    public async Task After_PostgreSQL_is_killed_and_restarted_under_load_the_recorded_usage_equals_the_admitted_usage_request_for_request()
    {
        await using var sidecar = await RegistrySidecar.StartAsync(Cluster.GetConnectionString(), _kekPath);
        var (_, keyId, token) = await sidecar.AddKeyAsync(
            limits: new RegistryKeyLimits(RequestsPerMinute: 1_000_000, TokensPerMinute: 100_000_000, MaxParallelRequests: 64),
            budget: new RegistryKeyBudget(1_000m, BudgetPeriodKind.Monthly));
        var admitted = new ConcurrentDictionary<string, Admitted>(StringComparer.Ordinal);
        using (var loaded = await sidecar.ResolveUntilAsync(token, HttpStatusCode.OK, TimeSpan.FromSeconds(5)))
        {
            Assert.Equal(HttpStatusCode.OK, loaded.StatusCode);
            await ReportAsync(sidecar, await RegistrySidecar.ReadJsonAsync(loaded), 1, admitted);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var load = Task.WhenAll(Enumerable.Range(0, 6).Select(worker => Task.Run(() => DriveAsync(sidecar, token, worker, admitted, stop.Token), Cancel)));

        await Task.Delay(TimeSpan.FromSeconds(1), Cancel);
        var beforeKill = admitted.Count;
        await Cluster.KillAsync(Cancel);
        // The quota store learns of the outage at its next round trip: a refill, or at the latest its
        // next heartbeat (Quota:HeartbeatInterval); this key's leases are large enough to need no refill.
        var degradedWait = new QuotaOptions().HeartbeatInterval + TimeSpan.FromSeconds(15);
        var degradedReport = await WaitForReadyzAsync(sidecar, body => body.GetProperty("quotaDegraded").GetBoolean(), degradedWait);
        var metrics = await sidecar.Client.GetStringAsync("/metrics", Cancel);
        var duringOutage = admitted.Count;
        await Cluster.StartAsync(Cancel);
        await WaitForReadyzAsync(sidecar, body => !body.GetProperty("quotaDegraded").GetBoolean(), TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(1), Cancel);
        await stop.CancelAsync();
        await load;

        await WaitForReadyzAsync(
            sidecar,
            body => body.GetProperty("usageBufferDepth").GetInt32() == 0 && !body.GetProperty("usageSinkDegraded").GetBoolean(),
            TimeSpan.FromSeconds(60));
        var recorded = await ReadEventsAsync(keyId);
        var totals = await sidecar.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, DateTimeOffset.UtcNow, Cancel);

        Assert.True(degradedReport.GetProperty("status").GetString() == "degraded", "/readyz while PostgreSQL is down: " + degradedReport);
        Assert.Contains("vk_sidecar_degraded{component=\"quota\"} 1", metrics, StringComparison.Ordinal);
        Assert.True(duringOutage > beforeKill, $"requests were admitted during the outage ({beforeKill} before it, {duringOutage} by its end)");
        Assert.Equal(admitted.Keys.Order(StringComparer.Ordinal), recorded.Keys.Order(StringComparer.Ordinal));
        foreach (var (id, usage) in admitted)
        {
            Assert.Equal(usage, recorded[id]);
        }

        Assert.Equal(admitted.Count, totals.Requests);
        Assert.Equal(admitted.Values.Sum(a => a.InputTokens), totals.InputTokens);
        Assert.Equal(admitted.Values.Sum(a => a.OutputTokens), totals.OutputTokens);
        Assert.Equal(admitted.Values.Sum(a => a.CostUsd), totals.CostUsd);
    }

    [Fact]
    public async Task While_PostgreSQL_is_down_a_lone_replica_spends_a_budget_it_was_never_granted_up_to_the_cap()
    {
        await using var database = await MigratedDatabaseAsync();
        var time = new FakeTimeProvider(Start);
        await using var store = new SharedQuotaStore(new QuotaLedger(database), new QuotaOptions { ReplicaId = "alone" }, time);
        await store.HeartbeatNowAsync(Cancel);

        // Each request reserves a dollar and costs ninety cents.
        var demand = TenDollarBudget;
        await Cluster.KillAsync(Cancel);
        var admitted = await AdmitUntilRefusedAsync(store, "key-budget", demand, QuotaRefusalReason.Budget, costUsd: 0.9m);

        var health = store.Health;
        await Cluster.StartAsync(Cancel);

        // Admitted while the spend is below the cap: 12 requests (10.80 USD), the last one in flight
        // when 9.90 was spent. Counting its own use twice, the replica stopped at half the cap.
        Assert.True(health.Degraded);
        Assert.Equal(12, admitted);
    }

    [Fact]
    public async Task While_refills_fail_a_recorded_spend_that_may_miss_this_replicas_own_use_does_not_let_the_budget_be_overspent()
    {
        await using var database = await MigratedDatabaseAsync();
        var time = new FakeTimeProvider(Start);
        await using var store = new SharedQuotaStore(new QuotaLedger(database), new QuotaOptions { ReplicaId = "alone" }, time);
        await store.HeartbeatNowAsync(Cancel);
        var demand = TenDollarBudget;
        await Cluster.KillAsync(Cancel);
        for (var i = 0; i < 4; i++)
        {
            var decision = await store.TryAdmitAsync("key-budget", demand, Cancel);
            Assert.True(decision.Admitted);
            await store.SettleAsync(decision.Ticket, 0, 1m, Cancel);
        }

        // The registry then reports 6 USD: other replicas' 5 and one of this replica's 4, the other
        // three not flushed yet. The true spend is 9, so at most one more dollar may be admitted.
        store.ObserveRecordedSpend("key-budget", VirtualKeys.Sidecar.Snapshot.BudgetPeriod.Total, 6m);
        var more = await AdmitUntilRefusedAsync(store, "key-budget", demand, QuotaRefusalReason.Budget, costUsd: 1m);

        await Cluster.StartAsync(Cancel);
        Assert.InRange(more, 0, 1);
    }

    [Fact]
    public async Task While_PostgreSQL_is_down_a_replica_holds_at_most_its_share_of_parallel_requests_in_flight()
    {
        await using var database = await MigratedDatabaseAsync();
        var ledger = new QuotaLedger(database);
        var time = new FakeTimeProvider(Start);
        await using var cutOff = new SharedQuotaStore(ledger, new QuotaOptions { ReplicaId = "cut-off" }, time);
        await using var other = new SharedQuotaStore(ledger, new QuotaOptions { ReplicaId = "other" }, time);
        foreach (var store in new[] { cutOff, other, cutOff })
        {
            await store.HeartbeatNowAsync(Cancel);
        }

        var demand = new QuotaDemand(new KeyLimits(MaxParallelRequests: 6), null, 0, 0m);
        await Cluster.KillAsync(Cancel);
        var inFlight = new List<QuotaTicket>();
        QuotaDecision refused;
        while (true)
        {
            var decision = await cutOff.TryAdmitAsync("key-parallel", demand, Cancel);
            if (!decision.Admitted)
            {
                refused = decision;
                break;
            }

            inFlight.Add(decision.Ticket);
            Assert.True(inFlight.Count <= 6, "admitted past the limit");
        }

        // One finishing frees room for one more, never more than the share at a time.
        await cutOff.SettleAsync(inFlight[0], 0, 0m, Cancel);
        var next = await cutOff.TryAdmitAsync("key-parallel", demand, Cancel);
        var afterThat = await cutOff.TryAdmitAsync("key-parallel", demand, Cancel);
        var health = cutOff.Health;
        await Cluster.StartAsync(Cancel);

        Assert.True(health.Degraded);
        Assert.Equal(2, health.LiveReplicas);
        Assert.Equal(3, inFlight.Count);
        Assert.Equal(QuotaRefusalReason.ParallelRequests, refused.Reason);
        Assert.True(next.Admitted);
        Assert.False(afterThat.Admitted);
    }

    private async Task<RegistryDatabase> MigratedDatabaseAsync()
    {
        var database = RegistryDatabase.Create(Cluster.GetConnectionString());
        await new RegistryMigrator(database).MigrateAsync(Cancel);
        return database;
    }

    /// <summary>Admits one request at a time, each settled at <paramref name="costUsd"/>, until one is refused for <paramref name="reason"/>.</summary>
    private static async Task<long> AdmitUntilRefusedAsync(
        SharedQuotaStore store, string key, QuotaDemand demand, QuotaRefusalReason reason = QuotaRefusalReason.RequestsPerMinute, decimal costUsd = 0m)
    {
        long admitted = 0;
        while (true)
        {
            var decision = await store.TryAdmitAsync(key, demand, Cancel);
            if (!decision.Admitted)
            {
                Assert.Equal(reason, decision.Reason);
                return admitted;
            }

            admitted++;
            Assert.True(admitted <= 1_000, "admitted a thousand requests without a refusal");
            await store.SettleAsync(decision.Ticket, 0, costUsd, Cancel);
        }
    }

    /// <summary>Heartbeats until the store reaches PostgreSQL again (the first tries may meet connections the restart broke).</summary>
    private static async Task RecoverAsync(SharedQuotaStore store)
    {
        for (var attempt = 0; attempt < 40 && (attempt == 0 || store.Health.Degraded); attempt++)
        {
            await store.HeartbeatNowAsync(Cancel);
            if (store.Health.Degraded)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), Cancel);
            }
        }

        Assert.False(store.Health.Degraded, "the store reaches the restarted PostgreSQL");
    }

    /// <summary>One client: resolve, report usage for what was admitted, remember what it reported.</summary>
    private static async Task DriveAsync(RegistrySidecar sidecar, string token, int worker, ConcurrentDictionary<string, Admitted> admitted, CancellationToken stop)
    {
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            using var resolved = await sidecar.ResolveAsync(token);
            if (resolved.StatusCode != HttpStatusCode.OK)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(5), CancellationToken.None);
                continue;
            }

            await ReportAsync(sidecar, await RegistrySidecar.ReadJsonAsync(resolved), 10 + ((i + worker) % 40), admitted);
        }
    }

    private static async Task ReportAsync(RegistrySidecar sidecar, System.Text.Json.JsonElement decision, long inputTokens, ConcurrentDictionary<string, Admitted> admitted)
    {
        var decisionId = decision.GetProperty("decisionId").GetString()!;
        var outputTokens = 1 + (inputTokens % 7);
        using var reported = await sidecar.Client.PostAsJsonAsync(
            "/v1/usage",
            new { decisionId, inputTokens, outputTokens, status = "success" },
            CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, reported.StatusCode);
        var body = await RegistrySidecar.ReadJsonAsync(reported);
        admitted[decisionId] = new Admitted(inputTokens, outputTokens, body.GetProperty("costUsd").GetDecimal());
    }

    private static async Task<System.Text.Json.JsonElement> WaitForReadyzAsync(RegistrySidecar sidecar, Func<System.Text.Json.JsonElement, bool> condition, TimeSpan limit)
    {
        var deadline = DateTimeOffset.UtcNow + limit;
        while (true)
        {
            using var response = await sidecar.Client.GetAsync("/readyz", Cancel);
            var body = await RegistrySidecar.ReadJsonAsync(response);
            if (condition(body))
            {
                return body;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"/readyz did not reach the expected state within {limit}: {body}");
            await Task.Delay(TimeSpan.FromMilliseconds(100), Cancel);
        }
    }

    /// <summary>The served usage events the registry holds for the key, by request id.</summary>
    private async Task<Dictionary<string, Admitted>> ReadEventsAsync(string keyId)
    {
        await using var connection = new NpgsqlConnection(Cluster.GetConnectionString());
        await connection.OpenAsync(Cancel);
        await using var command = new NpgsqlCommand(
            "SELECT request_id, input_tokens, output_tokens, cost_usd FROM vk.usage_events WHERE key_id = $1 AND rejection IS NULL",
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = keyId });
        var events = new Dictionary<string, Admitted>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(Cancel);
        while (await reader.ReadAsync(Cancel))
        {
            events.Add(reader.GetString(0), new Admitted(reader.GetInt64(1), reader.GetInt64(2), reader.GetDecimal(3)));
        }

        return events;
    }

    private readonly record struct Admitted(long InputTokens, long OutputTokens, decimal CostUsd);
}
