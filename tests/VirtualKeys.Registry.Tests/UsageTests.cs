using Npgsql;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Registry.Tests;

public sealed class UsageTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>, IAsyncLifetime
{
    private static readonly DateTimeOffset SundayEvening = new(2025, 6, 8, 23, 30, 0, TimeSpan.Zero);
    private TestRegistry _registry = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _registry = await fixture.OpenAsync();

    public ValueTask DisposeAsync() => _registry.DisposeAsync();

    [Fact]
    public async Task Replayed_batch_changes_nothing()
    {
        var keyId = NewKeyId();
        UsageEvent[] batch = [Served(keyId, SundayEvening, 100, 50, 0.0125m), Served(keyId, SundayEvening.AddMinutes(1), 10, 5, 0.001m)];

        var first = await _registry.Registry.RecordUsageAsync(batch, Ct);
        var totalsAfterFirst = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Monthly, SundayEvening, Ct);
        var replay = await _registry.Registry.RecordUsageAsync(batch, Ct);
        var overlapping = await _registry.Registry.RecordUsageAsync([batch[1], Served(keyId, SundayEvening.AddMinutes(2), 1, 1, 0.0001m)], Ct);
        var totals = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Monthly, SundayEvening, Ct);

        Assert.Equal(new UsageBatchResult(2, 0), first);
        Assert.Equal(new UsageBatchResult(0, 2), replay);
        Assert.Equal(new UsageBatchResult(1, 1), overlapping);
        Assert.Equal(2, totalsAfterFirst.Requests);
        Assert.Equal(3, totals.Requests);
        Assert.Equal(111, totals.InputTokens);
        Assert.Equal(56, totals.OutputTokens);
        Assert.Equal(0.0136m, totals.CostUsd);
    }

    [Fact]
    public async Task A_usage_batch_can_carry_a_replicas_quota_presence_but_never_brings_back_a_lapsed_one()
    {
        var keyId = NewKeyId();
        var replica = "replica-" + keyId;
        var ttl = TimeSpan.FromSeconds(20);
        await _registry.Registry.Quotas.HeartbeatAsync(replica, SundayEvening, ttl, Ct);

        var carried = await _registry.Registry.RecordUsageAsync(
            [Served(keyId, SundayEvening, 10, 5, 0.001m)], new ReplicaPresence(replica, SundayEvening.AddSeconds(15), ttl), Ct);
        var stillAlive = await _registry.Registry.Quotas.HeartbeatAsync(replica, SundayEvening.AddSeconds(30), ttl, Ct);
        var afterLapse = await _registry.Registry.RecordUsageAsync(
            [Served(keyId, SundayEvening.AddSeconds(1), 10, 5, 0.001m)], new ReplicaPresence(replica, SundayEvening.AddSeconds(60), ttl), Ct);
        var rejoin = await _registry.Registry.Quotas.HeartbeatAsync(replica, SundayEvening.AddSeconds(61), ttl, Ct);
        var totals = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);

        Assert.Equal(1, carried.Recorded);
        Assert.Equal(await _registry.Registry.GetChangeVersionAsync(Ct), carried.ChangeVersion);
        Assert.True(carried.Present);
        Assert.InRange(carried.LiveReplicas, 1, int.MaxValue);
        Assert.False(stillAlive.Rejoined, "the batch at 15 s kept the replica alive at 30 s (Ttl 20 s)");
        Assert.Equal(1, afterLapse.Recorded);
        Assert.False(afterLapse.Present);
        Assert.True(rejoin.Rejoined);
        Assert.Equal(2, totals.Requests);
    }

    [Fact]
    public async Task A_replayed_batch_with_new_events_and_a_replicas_presence_adds_the_new_ones_and_keeps_the_replica_alive()
    {
        var keyId = NewKeyId();
        var replica = "replica-" + keyId;
        var ttl = TimeSpan.FromSeconds(20);
        await _registry.Registry.Quotas.HeartbeatAsync(replica, SundayEvening, ttl, Ct);
        var recorded = Served(keyId, SundayEvening, 10, 5, 0.001m);
        await _registry.Registry.RecordUsageAsync([recorded], Ct);

        var replay = await _registry.Registry.RecordUsageAsync(
            [recorded, Served(keyId, SundayEvening.AddSeconds(1), 20, 10, 0.002m)], new ReplicaPresence(replica, SundayEvening.AddSeconds(15), ttl), Ct);
        var later = await _registry.Registry.Quotas.HeartbeatAsync(replica, SundayEvening.AddSeconds(30), ttl, Ct);
        var totals = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);

        Assert.Equal((1, 1), (replay.Recorded, replay.Duplicates));
        Assert.True(replay.Present);
        Assert.Equal(await _registry.Registry.GetChangeVersionAsync(Ct), replay.ChangeVersion);
        Assert.False(later.Rejoined, "the replayed batch at 15 s kept the replica alive at 30 s (Ttl 20 s)");
        Assert.Equal((2L, 30L, 15L, 0.003m), (totals.Requests, totals.InputTokens, totals.OutputTokens, totals.CostUsd));
    }

    [Fact]
    public async Task Request_id_repeated_inside_one_batch_counts_once()
    {
        var keyId = NewKeyId();
        var usage = Served(keyId, SundayEvening, 10, 10, 0.01m);

        var result = await _registry.Registry.RecordUsageAsync([usage, usage], Ct);

        Assert.Equal(new UsageBatchResult(1, 1), result);
        Assert.Equal(1, (await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, SundayEvening, Ct)).Requests);
    }

    [Fact]
    public async Task Totals_split_at_UTC_day_and_ISO_week_boundaries_but_not_within_the_month()
    {
        var keyId = NewKeyId();
        var mondayMorning = SundayEvening.AddHours(1);
        await _registry.Registry.RecordUsageAsync(
            [Served(keyId, SundayEvening, 1, 1, 1m), Served(keyId, mondayMorning, 2, 2, 2m), Served(keyId, mondayMorning.AddHours(3), 4, 4, 4m)],
            Ct);

        var sunday = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);
        var monday = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, mondayMorning, Ct);
        var lastWeek = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Weekly, SundayEvening, Ct);
        var thisWeek = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Weekly, mondayMorning, Ct);
        var month = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Monthly, mondayMorning, Ct);
        var total = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, mondayMorning, Ct);

        Assert.Equal((1L, 1m), (sunday.Requests, sunday.CostUsd));
        Assert.Equal((2L, 6m), (monday.Requests, monday.CostUsd));
        Assert.Equal(new DateTimeOffset(2025, 6, 9, 0, 0, 0, TimeSpan.Zero), monday.PeriodStart);
        Assert.Equal((1L, 1m), (lastWeek.Requests, lastWeek.CostUsd));
        Assert.Equal((2L, 6m), (thisWeek.Requests, thisWeek.CostUsd));
        Assert.Equal(new DateTimeOffset(2025, 6, 9, 0, 0, 0, TimeSpan.Zero), thisWeek.PeriodStart);
        Assert.Equal((3L, 7m), (month.Requests, month.CostUsd));
        Assert.Equal((3L, 7m), (total.Requests, total.CostUsd));
        Assert.Equal(mondayMorning.AddHours(3), total.LastRequestAt);
    }

    [Fact]
    public async Task A_week_across_two_months_sums_its_days_and_the_total_every_month_rejections_included()
    {
        var keyId = NewKeyId();
        var monday = new DateTimeOffset(2025, 6, 30, 9, 0, 0, TimeSpan.Zero);
        var wednesday = monday.AddDays(2);
        await _registry.Registry.RecordUsageAsync(
            [
                Served(keyId, new DateTimeOffset(2025, 5, 20, 12, 0, 0, TimeSpan.Zero), 1, 1, 1m),
                Served(keyId, monday, 2, 2, 2m),
                Rejected(keyId, monday, "RateLimited"),
                Served(keyId, wednesday, 4, 4, 4m),
                Rejected(keyId, wednesday, "RateLimited"),
                Rejected(keyId, wednesday, "BudgetExhausted"),
                Served(keyId, monday.AddDays(7), 8, 8, 8m),
            ],
            Ct);

        var week = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Weekly, wednesday, Ct);
        var july = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Monthly, wednesday, Ct);
        var total = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, wednesday, Ct);

        Assert.Equal((2L, 6L, 6m), (week.Requests, week.InputTokens, week.CostUsd));
        Assert.Equal(new Dictionary<string, long> { ["RateLimited"] = 2, ["BudgetExhausted"] = 1 }, week.Rejections);
        Assert.Equal(wednesday, week.LastRequestAt);
        Assert.Equal((2L, 12m), (july.Requests, july.CostUsd));
        Assert.Equal((4L, 15L, 15m), (total.Requests, total.OutputTokens, total.CostUsd));
        Assert.Equal(new Dictionary<string, long> { ["RateLimited"] = 2, ["BudgetExhausted"] = 1 }, total.Rejections);
        Assert.Equal(monday.AddDays(7), total.LastRequestAt);
        Assert.Equal(BudgetPeriod.TotalStart, total.PeriodStart);
    }

    [Fact]
    public async Task Weekly_and_total_budget_pools_start_from_the_spend_the_registry_reads_for_them()
    {
        var keyId = NewKeyId();
        var monday = new DateTimeOffset(2025, 6, 30, 9, 0, 0, TimeSpan.Zero);
        await _registry.Registry.RecordUsageAsync(
            [
                Served(keyId, new DateTimeOffset(2025, 5, 20, 12, 0, 0, TimeSpan.Zero), 1, 1, 1m),
                Served(keyId, monday.AddDays(-1), 1, 1, 2m),
                Served(keyId, monday, 1, 1, 4m),
                Served(keyId, monday.AddDays(2), 1, 1, 8m),
            ],
            Ct);
        var at = monday.AddDays(3);

        var weekly = await _registry.Registry.Quotas.GrantAsync(
            new QuotaGrantRequest(keyId, "a", at) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Weekly, 20m, 1m) }, TimeSpan.FromSeconds(30), Ct);
        var total = await _registry.Registry.Quotas.GrantAsync(
            new QuotaGrantRequest(keyId, "a", at) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Total, 20m, 1m) }, TimeSpan.FromSeconds(30), Ct);

        // The week holds Monday's 4 and Wednesday's 8; the total every dollar, in May, June and July.
        Assert.Equal((1m, 7m), (weekly.BudgetUsd, weekly.BudgetRemainingUsd));
        Assert.Equal((1m, 4m), (total.BudgetUsd, total.BudgetRemainingUsd));
    }

    [Fact]
    public async Task Rejections_are_counted_by_cause_and_not_as_served_requests()
    {
        var keyId = NewKeyId();
        await _registry.Registry.RecordUsageAsync(
            [Served(keyId, SundayEvening, 5, 5, 0.5m), Rejected(keyId, SundayEvening, "RateLimited"), Rejected(keyId, SundayEvening, "RateLimited")],
            Ct);
        await _registry.Registry.RecordUsageAsync([Rejected(keyId, SundayEvening.AddMinutes(5), "BudgetExhausted"), Rejected(keyId, SundayEvening, "RateLimited")], Ct);

        var totals = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);

        Assert.Equal(1, totals.Requests);
        Assert.Equal(3, totals.Rejections["RateLimited"]);
        Assert.Equal(1, totals.Rejections["BudgetExhausted"]);
        Assert.Equal(SundayEvening.AddMinutes(5), totals.LastRequestAt);
    }

    [Fact]
    public async Task A_batch_is_one_statement_without_a_transaction_and_its_replay_two_that_change_nothing()
    {
        var keyId = NewKeyId();
        using var log = new NpgsqlCommandLog();
        using var loggerFactory = log.CreateFactory();
        await using var database = RegistryDatabase.Create(fixture.ConnectionString, loggerFactory);
        var registry = RegistryOn(database);
        UsageEvent[] batch =
        [
            Served(keyId, SundayEvening, 100, 50, 0.0125m),
            Served(keyId, SundayEvening.AddHours(1), 10, 5, 0.001m),
            Rejected(keyId, SundayEvening.AddHours(1), "rpm") with { Count = 7 },
        ];

        log.Clear();
        var first = await registry.RecordUsageAsync(batch, Ct);
        var firstCommands = log.Commands;
        var firstTransactions = log.Transactions;
        log.Clear();
        var replay = await registry.RecordUsageAsync(batch, Ct);
        var replayCommands = log.Commands;
        var total = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, SundayEvening, Ct);
        var monday = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening.AddHours(1), Ct);

        Assert.Equal(new UsageBatchResult(3, 0), first);
        Assert.DoesNotContain("ON CONFLICT", Assert.Single(firstCommands), StringComparison.Ordinal);
        Assert.Empty(firstTransactions);
        Assert.Equal(new UsageBatchResult(0, 3), replay);
        // A replay costs a second statement: the plain insert is refused at the first event already
        // there, and the one that tolerates repeats adds nothing.
        Assert.Collection(
            replayCommands,
            refused => Assert.DoesNotContain("ON CONFLICT", refused, StringComparison.Ordinal),
            tolerant => Assert.Contains("ON CONFLICT", tolerant, StringComparison.Ordinal));
        Assert.Equal((2L, 110L, 55L, 0.0135m), (total.Requests, total.InputTokens, total.OutputTokens, total.CostUsd));
        Assert.Equal(7, total.Rejections["rpm"]);
        Assert.Equal((1L, 7L), (monday.Requests, monday.Rejections["rpm"]));
        Assert.Equal(SundayEvening.AddHours(1), total.LastRequestAt);
    }

    [Fact]
    public async Task Usage_batches_run_prepared_from_the_second_one_on_still_one_statement_each()
    {
        var (commandsPerBatch, prepared, requests) = await RecordThreeBatchesAsync(fixture.ConnectionString);

        Assert.Equal([1, 1, 1], commandsPerBatch);
        Assert.Equal(1, prepared);
        Assert.Equal(3, requests);
    }

    [Theory]
    [InlineData("Max Auto Prepare=0")] // preparing off, for a PgBouncer in transaction mode
    [InlineData("Auto Prepare Min Usages=4")] // prepared at the fourth use, after these three
    public async Task Auto_preparing_set_in_the_connection_string_keeps_its_value_and_three_batches_stay_unprepared(string setting)
    {
        var (commandsPerBatch, prepared, requests) = await RecordThreeBatchesAsync(fixture.ConnectionString + ";" + setting);

        Assert.Equal([1, 1, 1], commandsPerBatch);
        Assert.Equal(0, prepared);
        Assert.Equal(3, requests);
    }

    [Theory]
    [InlineData("DEALLOCATE ALL")] // the statement is not on this server connection: 26000
    [InlineData("DEALLOCATE ALL; PREPARE _auto0 (text) AS SELECT $1")] // its name is another client's statement: 08P01
    public async Task A_server_that_refuses_the_prepared_statement_gets_the_batch_again_unprepared_and_every_later_one(string serverSide)
    {
        // What a PgBouncer in transaction mode does to prepared statements, done by hand in the
        // session where Npgsql prepared the usage statement.
        var keyId = NewKeyId();
        await using var database = RegistryDatabase.Create(fixture.ConnectionString);
        var registry = RegistryOn(database);
        var results = new List<UsageBatchResult>();
        for (var i = 0; i < 2; i++)
        {
            results.Add(await registry.RecordUsageAsync([Served(keyId, SundayEvening.AddMinutes(i), 10, 5, 0.001m)], Ct));
        }

        var preparedBefore = registry.PreparesUsageBatches;
        await database.RunPreparedAsync(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand(serverSide, connection);
                return await command.ExecuteNonQueryAsync(ct);
            },
            Ct);
        for (var i = 2; i < 4; i++)
        {
            results.Add(await registry.RecordUsageAsync([Served(keyId, SundayEvening.AddMinutes(i), 10, 5, 0.001m)], Ct));
        }

        var totals = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);

        Assert.All(results, r => Assert.Equal(new UsageBatchResult(1, 0), r));
        Assert.Equal(4, totals.Requests);
        Assert.True(preparedBefore);
        Assert.False(registry.PreparesUsageBatches);
    }

    /// <summary>Three one-event batches through a registry of its own: commands each took, usage statements prepared in their session, requests recorded.</summary>
    private async Task<(List<int> CommandsPerBatch, int Prepared, long Requests)> RecordThreeBatchesAsync(string connectionString)
    {
        var keyId = NewKeyId();
        using var log = new NpgsqlCommandLog();
        using var loggerFactory = log.CreateFactory();
        await using var database = RegistryDatabase.Create(connectionString, loggerFactory);
        var registry = RegistryOn(database);
        var commandsPerBatch = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            log.Clear();
            Assert.Equal(new UsageBatchResult(1, 0), await registry.RecordUsageAsync([Served(keyId, SundayEvening.AddMinutes(i), 10, 5, 0.001m)], Ct));
            commandsPerBatch.Add(log.Commands.Count);
        }

        // The batches' session: the pool's only connection, handed out again.
        var prepared = await database.RunPreparedAsync(
            async (connection, ct) =>
            {
                await using var command = new NpgsqlCommand(
                    "SELECT count(*)::integer FROM pg_prepared_statements WHERE statement LIKE '%INSERT INTO vk.usage_events%'", connection);
                return (int)(await command.ExecuteScalarAsync(ct))!;
            },
            Ct);
        var totals = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);
        return (commandsPerBatch, prepared, totals.Requests);
    }

    [Fact]
    public async Task An_aggregated_refusal_is_one_event_row_that_counts_all_its_requests()
    {
        var keyId = NewKeyId();
        await _registry.Registry.RecordUsageAsync(
            [Served(keyId, SundayEvening, 5, 5, 0.5m), Rejected(keyId, SundayEvening, "budget") with { Count = 40 }, Rejected(keyId, SundayEvening, "rpm")],
            Ct);

        var rows = await EventRowsAsync(keyId);
        var totals = await _registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Weekly, SundayEvening, Ct);

        Assert.Equal(3, rows.Count);
        Assert.Equal(new (string?, int)[] { (null, 1), ("budget", 40), ("rpm", 1) }, rows.OrderBy(r => r.Rejection, StringComparer.Ordinal));
        Assert.Equal(42, rows.Sum(r => r.Count));
        Assert.Equal(1, totals.Requests);
        Assert.Equal(40, totals.Rejections["budget"]);
        Assert.Equal(1, totals.Rejections["rpm"]);
    }

    [Theory]
    [InlineData(null, 2)]
    [InlineData("rpm", 0)]
    public async Task A_served_event_stands_for_one_request_and_a_refused_one_for_at_least_one(string? cause, int count)
    {
        var usage = new UsageEvent(Guid.NewGuid().ToString(), NewKeyId(), SundayEvening, "gpt-4o-mini", null, 0, 0, 0m, cause, count);

        await Assert.ThrowsAsync<ArgumentException>(() => _registry.Registry.RecordUsageAsync([usage], Ct));
    }

    [Fact]
    public async Task Key_without_usage_reads_as_zero_for_the_current_period()
    {
        var totals = await _registry.Registry.GetUsageAsync(NewKeyId(), BudgetPeriodKind.Weekly, SundayEvening, Ct);

        Assert.Equal(0, totals.Requests);
        Assert.Equal(0m, totals.CostUsd);
        Assert.Empty(totals.Rejections);
        Assert.Null(totals.LastRequestAt);
        Assert.Equal(new DateTimeOffset(2025, 6, 2, 0, 0, 0, TimeSpan.Zero), totals.PeriodStart);
    }

    private async Task<List<(string? Rejection, int Count)>> EventRowsAsync(string keyId)
    {
        await using var connection = new NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT rejection, request_count FROM vk.usage_events WHERE key_id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = keyId });
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<(string?, int)>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add((reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetInt32(1)));
        }

        return rows;
    }

    private static string NewKeyId() => VirtualKeyId.FromUid(Guid.NewGuid().ToString());

    /// <summary>A registry over a database of the test's own (its own pools and logging), on the fixture's KEK and clock.</summary>
    private VirtualKeyRegistry RegistryOn(RegistryDatabase database) => new(database, CredentialProtector.Create(database, fixture.KekPath), _registry.Time);

    private static UsageEvent Served(string keyId, DateTimeOffset at, long input, long output, decimal cost) =>
        new(Guid.NewGuid().ToString(), keyId, at, "gpt-4o-mini", "openai", input, output, cost);

    private static UsageEvent Rejected(string keyId, DateTimeOffset at, string cause) =>
        new(Guid.NewGuid().ToString(), keyId, at, "gpt-4o-mini", null, 0, 0, 0m, cause);
}
