using Npgsql;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

/// <summary>
/// Dollar leases of replicas that lapse (migration 0012): a replica killed without giving its lease
/// back must not keep it from the others past the replica TTL, and a replica taken for dead that comes
/// back must not give the same dollars back twice. On a real PostgreSQL; times are explicit.
/// </summary>
public sealed class BudgetLeaseReclaimTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private static readonly DateTimeOffset Tuesday = new(2026, 4, 7, 9, 30, 10, TimeSpan.Zero);
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(20);
    private RegistryDatabase _database = null!;
    private QuotaLedger _ledger = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _database = RegistryDatabase.Create(database.ConnectionString);
        await new RegistryMigrator(_database).MigrateAsync(Ct);
        _ledger = new QuotaLedger(_database);
    }

    public ValueTask DisposeAsync() => _database.DisposeAsync();

    [Theory]
    [InlineData(BudgetPeriodKind.Total)]
    [InlineData(BudgetPeriodKind.Daily)]
    public async Task A_crashed_replicas_unused_lease_goes_back_once_its_heartbeat_lapses_less_the_spend_recorded_since(BudgetPeriodKind period)
    {
        var (key, a, b) = Names();
        var t0 = Tuesday.AddHours(period == BudgetPeriodKind.Total ? -1 : -10);
        await _ledger.HeartbeatAsync(a, t0, Ttl, Ct);
        await _ledger.HeartbeatAsync(b, t0, Ttl, Ct);
        var leasedToA = await GrantAsync(key, a, t0, period, want: 4m, held: 0m);
        var leasedToB = await GrantAsync(key, b, t0.AddSeconds(1), period, want: 2m, held: 0m);

        // a spends 1 USD of its lease (its usage reaches the registry), then is killed: it neither
        // gives the rest back nor heartbeats again. b keeps heartbeating.
        await RecordSpendAsync(key, period, t0, 1m);
        await _ledger.HeartbeatAsync(b, t0.AddSeconds(15), Ttl, Ct);
        var beforeTtl = await GrantAsync(key, b, t0.AddSeconds(15), period, want: 0m, held: 2m);
        await _ledger.HeartbeatAsync(b, t0 + Ttl + TimeSpan.FromSeconds(1), Ttl, Ct);
        var afterTtl = await GrantAsync(key, b, t0 + Ttl + TimeSpan.FromSeconds(2), period, want: 100m, held: 2m);

        Assert.Equal((4m, 2m), (leasedToA.BudgetUsd, leasedToB.BudgetUsd));
        Assert.Equal(4m, beforeTtl.BudgetRemainingUsd);

        // The cap less what a spent: b now holds 2 + 7, the pool counts a's 1 USD and nothing else of a's.
        Assert.Equal(7m, afterTtl.BudgetUsd);
        Assert.Equal(0m, afterTtl.BudgetRemainingUsd);
        Assert.Equal(2m, afterTtl.BudgetKeptUsd);
        Assert.Equal(10m, await GrantedAsync(key, period, t0));
    }

    [Fact]
    public async Task A_grant_the_pool_cannot_fill_takes_back_a_lapsed_replicas_lease_without_waiting_for_a_heartbeat()
    {
        var (key, a, b) = Names();
        var t0 = Tuesday.AddHours(-12);
        await _ledger.HeartbeatAsync(a, t0, Ttl, Ct);
        await _ledger.HeartbeatAsync(b, t0, Ttl, Ct);
        await GrantAsync(key, a, t0, BudgetPeriodKind.Daily, want: 4m, held: 0m);
        await GrantAsync(key, b, t0, BudgetPeriodKind.Daily, want: 6m, held: 0m);

        var whileALives = await GrantAsync(key, b, t0.AddSeconds(19), BudgetPeriodKind.Daily, want: 1m, held: 6m);
        var afterALapsed = await GrantAsync(key, b, t0 + Ttl + TimeSpan.FromSeconds(1), BudgetPeriodKind.Daily, want: 1m, held: 6m);

        Assert.Equal(0m, whileALives.BudgetUsd);
        Assert.Equal(1m, afterALapsed.BudgetUsd);
        Assert.Equal(3m, afterALapsed.BudgetRemainingUsd);
        Assert.Equal((4m, 0m, true), await LeaseRowAsync(key, BudgetPeriodKind.Daily, t0, a));
    }

    [Fact]
    public async Task A_lease_goes_back_for_what_its_replica_had_not_said_it_spent()
    {
        var (key, a, b) = Names();
        var t0 = Tuesday.AddHours(-2);
        await _ledger.HeartbeatAsync(a, t0, Ttl, Ct);
        await GrantAsync(key, a, t0, BudgetPeriodKind.Daily, want: 4m, held: 0m);

        // a spent 3 of its 4 (recorded), then refilled: it says it holds 1, and is given 2 more.
        await RecordSpendAsync(key, BudgetPeriodKind.Daily, t0, 3m);
        var refill = await GrantAsync(key, a, t0.AddSeconds(5), BudgetPeriodKind.Daily, want: 2m, held: 1m);
        var heldByA = await HeldAsync(key, BudgetPeriodKind.Daily, t0, a);
        await _ledger.HeartbeatAsync(b, t0 + Ttl + TimeSpan.FromSeconds(6), Ttl, Ct);
        var forB = await GrantAsync(key, b, t0 + Ttl + TimeSpan.FromSeconds(6), BudgetPeriodKind.Daily, want: 100m, held: 0m);

        Assert.Equal((2m, 1m), (refill.BudgetUsd, refill.BudgetKeptUsd));
        Assert.Equal(3m, heldByA);
        Assert.Equal(7m, forB.BudgetUsd);
    }

    [Fact]
    public async Task Spend_recorded_after_a_replicas_last_grant_stays_counted_when_its_lease_goes_back()
    {
        var (key, a, b) = Names();
        var t0 = Tuesday.AddHours(-3);
        await _ledger.HeartbeatAsync(a, t0, Ttl, Ct);
        await GrantAsync(key, a, t0, BudgetPeriodKind.Daily, want: 4m, held: 0m);

        // a spent 2.5 after its last grant; its usage got through before it was killed.
        await RecordSpendAsync(key, BudgetPeriodKind.Daily, t0, 2.5m);
        await _ledger.HeartbeatAsync(b, t0 + Ttl + TimeSpan.FromSeconds(1), Ttl, Ct);
        var lease = await LeaseRowAsync(key, BudgetPeriodKind.Daily, t0, a);
        var forB = await GrantAsync(key, b, t0 + Ttl + TimeSpan.FromSeconds(1), BudgetPeriodKind.Daily, want: 100m, held: 0m);

        Assert.Equal((4m, 2.5m, true), lease);
        Assert.Equal(7.5m, forB.BudgetUsd);
    }

    [Fact]
    public async Task A_replica_taken_for_dead_that_gives_its_lease_back_later_does_not_give_it_back_twice()
    {
        var (key, a, b) = Names();
        var t0 = Tuesday.AddHours(-4);
        await _ledger.HeartbeatAsync(a, t0, Ttl, Ct);
        await _ledger.HeartbeatAsync(b, t0, Ttl, Ct);
        await GrantAsync(key, a, t0, BudgetPeriodKind.Daily, want: 4m, held: 0m);
        await GrantAsync(key, b, t0, BudgetPeriodKind.Daily, want: 2m, held: 0m);

        // a was cut off, not dead: b's heartbeat gives a's lease back, and b takes the rest of the pool.
        var later = t0 + Ttl + TimeSpan.FromSeconds(1);
        await _ledger.HeartbeatAsync(b, later, Ttl, Ct);
        var forB = await GrantAsync(key, b, later, BudgetPeriodKind.Daily, want: 100m, held: 2m);

        // a comes back, spent nothing and gives its whole lease back; then gives it back once more.
        await ReturnAsync(key, a, t0, BudgetPeriodKind.Daily, amount: 4m, held: 0m);
        await ReturnAsync(key, a, t0, BudgetPeriodKind.Daily, amount: 4m, held: 0m);
        var granted = await GrantedAsync(key, BudgetPeriodKind.Daily, t0);
        var afterReturns = await GrantAsync(key, b, later.AddSeconds(1), BudgetPeriodKind.Daily, want: 1m, held: 10m);
        var heldByB = await HeldAsync(key, BudgetPeriodKind.Daily, t0, b);

        Assert.Equal(8m, forB.BudgetUsd);
        Assert.Equal(10m, granted);
        Assert.Equal(0m, afterReturns.BudgetUsd);
        Assert.True(granted >= heldByB, $"granted {granted} counts b's lease {heldByB}");
    }

    [Fact]
    public async Task A_live_replica_gives_a_lease_back_once_however_often_it_sends_the_return()
    {
        var (key, a, b) = Names();
        var t0 = Tuesday.AddHours(-5);
        await GrantAsync(key, a, t0, BudgetPeriodKind.Daily, want: 3m, held: 0m);
        await GrantAsync(key, b, t0, BudgetPeriodKind.Daily, want: 3m, held: 0m);

        // As when a return's answer was lost and the replica put the dollars back into its lease.
        await ReturnAsync(key, a, t0, BudgetPeriodKind.Daily, amount: 3m, held: 0m);
        await ReturnAsync(key, a, t0, BudgetPeriodKind.Daily, amount: 3m, held: 0m);
        var granted = await GrantedAsync(key, BudgetPeriodKind.Daily, t0);
        var aAgain = await GrantAsync(key, a, t0.AddSeconds(1), BudgetPeriodKind.Daily, want: 0m, held: 3m);

        Assert.Equal(3m, granted);
        Assert.Equal(0m, aAgain.BudgetKeptUsd);
    }

    [Fact]
    public async Task A_replica_taken_for_dead_that_comes_back_with_a_grant_drops_its_lease_and_is_charged_what_it_spent_meanwhile()
    {
        var (key, a, b) = Names();
        var t0 = Tuesday.AddHours(-6);
        await _ledger.HeartbeatAsync(a, t0, Ttl, Ct);
        await GrantAsync(key, a, t0, BudgetPeriodKind.Daily, want: 4m, held: 0m);

        // Nothing of a's spend reached the registry before b's heartbeat gave a's lease back.
        var later = t0 + Ttl + TimeSpan.FromSeconds(1);
        await _ledger.HeartbeatAsync(b, later, Ttl, Ct);
        var afterReclaim = await GrantedAsync(key, BudgetPeriodKind.Daily, t0);

        // a had spent 1.5 of it, and holds 2.5 it has not spent.
        var back = await GrantAsync(key, a, later.AddSeconds(1), BudgetPeriodKind.Daily, want: 1m, held: 2.5m);
        var heldByA = await HeldAsync(key, BudgetPeriodKind.Daily, t0, a);

        Assert.Equal(0m, afterReclaim);
        Assert.Equal(0m, back.BudgetKeptUsd);
        Assert.Equal(1m, back.BudgetUsd);
        Assert.Equal(10m - 1.5m - 1m, back.BudgetRemainingUsd);
        Assert.Equal(1m, heldByA);
    }

    [Fact]
    public async Task A_returning_replica_taken_for_dead_is_charged_what_it_spent_meanwhile_and_keeps_its_requests_in_flight_counted()
    {
        var (key, a, b) = Names();
        var t0 = Tuesday.AddHours(-7);
        await GrantAsync(key, a, t0, BudgetPeriodKind.Daily, want: 4m, held: 0m);
        await _ledger.HeartbeatAsync(b, t0 + Ttl + TimeSpan.FromSeconds(1), Ttl, Ct);

        // a spent 1 (not recorded yet), has 0.5 in flight, and gives back the 2.5 left.
        await ReturnAsync(key, a, t0, BudgetPeriodKind.Daily, amount: 2.5m, held: 0.5m);
        var granted = await GrantedAsync(key, BudgetPeriodKind.Daily, t0);
        var heldByA = await HeldAsync(key, BudgetPeriodKind.Daily, t0, a);

        Assert.Equal(1.5m, granted);
        Assert.Equal(0.5m, heldByA);
    }

    [Fact]
    public async Task Leases_of_live_replicas_stay_leased_however_long_ago_they_were_granted()
    {
        var (key, a, b) = Names();
        var c = "c-" + key;
        var t0 = Tuesday.AddHours(-8);
        await _ledger.HeartbeatAsync(a, t0, Ttl, Ct);
        await GrantAsync(key, a, t0, BudgetPeriodKind.Daily, want: 4m, held: 0m);
        await _ledger.HeartbeatAsync(a, t0.AddSeconds(15), Ttl, Ct);
        var later = t0 + Ttl + TimeSpan.FromSeconds(5);

        // c never heartbeated yet; its grant is recent.
        await GrantAsync(key, c, later.AddSeconds(-10), BudgetPeriodKind.Daily, want: 3m, held: 0m);
        await _ledger.HeartbeatAsync(b, later, Ttl, Ct);

        Assert.Equal(7m, await GrantedAsync(key, BudgetPeriodKind.Daily, t0));
        Assert.Equal((4m, 3m), (await HeldAsync(key, BudgetPeriodKind.Daily, t0, a), await HeldAsync(key, BudgetPeriodKind.Daily, t0, c)));
    }

    [Fact]
    public async Task What_a_leaving_replica_could_not_give_back_is_reclaimed_at_the_next_heartbeat()
    {
        var (key, a, b) = Names();
        var t0 = Tuesday.AddHours(-9);
        await GrantAsync(key, a, t0, BudgetPeriodKind.Daily, want: 4m, held: 0m);
        await ReturnAsync(key, a, t0, BudgetPeriodKind.Daily, amount: 3m, held: 0.25m);
        await _ledger.LeaveAsync(a, Ct);
        var afterLeave = await GrantedAsync(key, BudgetPeriodKind.Daily, t0);

        // Another replica's heartbeat right after: no TTL to wait for, nothing recorded since.
        await _ledger.HeartbeatAsync(b, t0.AddSeconds(1), Ttl, Ct);

        Assert.Equal(1m, afterLeave);
        Assert.Equal(0.75m, await GrantedAsync(key, BudgetPeriodKind.Daily, t0));
    }

    // A pool row another transaction holds (a grant stalled between statements, a session left open on
    // it) must not hold up the heartbeats of every replica (migration 0013): a late heartbeat makes its
    // replica doubt its own leases and, past the TTL, the others take it for dead.
    [Fact]
    public async Task A_heartbeat_does_not_wait_for_a_budget_pool_another_transaction_holds_and_a_later_one_reclaims_it()
    {
        var (key, a, b) = Names();
        var t0 = Tuesday.AddHours(-8);
        await GrantAsync(key, a, t0, BudgetPeriodKind.Daily, want: 4m, held: 0m);
        var lapsed = t0 + Ttl + TimeSpan.FromSeconds(1);

        decimal whileHeld;
        await using (var holder = await OpenTransaction.BeginAsync(database.ConnectionString, Ct))
        {
            await holder.ExecuteAsync("SELECT 1 FROM vk.quota_budgets WHERE key_id = $1 FOR UPDATE", Ct, key);
            using var patience = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            patience.CancelAfter(TimeSpan.FromSeconds(20));
            await _ledger.HeartbeatAsync(b, lapsed, Ttl, patience.Token);
            whileHeld = await GrantedAsync(key, BudgetPeriodKind.Daily, t0);
            await holder.RollbackAsync(Ct);
        }

        await _ledger.HeartbeatAsync(b, lapsed.AddSeconds(1), Ttl, Ct);

        Assert.Equal(4m, whileHeld);
        Assert.Equal(0m, await GrantedAsync(key, BudgetPeriodKind.Daily, t0));
        Assert.Equal((4m, 0m, true), await LeaseRowAsync(key, BudgetPeriodKind.Daily, t0, a));
    }

    [Fact]
    public async Task Replicas_granting_heartbeating_and_lapsing_at_once_never_deadlock_and_the_pool_counts_every_live_lease()
    {
        var keys = Enumerable.Range(0, 3).Select(_ => NewKeyId()).ToArray();
        var replicas = Enumerable.Range(0, 4).Select(i => $"r{i}-{NewKeyId()}").ToArray();
        var start = Tuesday.AddDays(-1);
        var failures = new List<Exception>();
        for (var round = 0; round < 25; round++)
        {
            // Every third round one replica stays silent long enough to lapse and be reclaimed.
            var at = start + (Ttl + TimeSpan.FromSeconds(1)) * round;
            var silent = round % 3 == 0 ? replicas[round % replicas.Length] : null;
            var work = replicas.Where(r => r != silent).SelectMany(replica => keys.Select(key => Task.Run(
                async () =>
                {
                    await _ledger.HeartbeatAsync(replica, at, Ttl, Ct);
                    var held = await HeldAsync(key, BudgetPeriodKind.Total, start, replica);
                    await GrantAsync(key, replica, at, BudgetPeriodKind.Total, want: 0.5m, held: held / 2);
                    await ReturnAsync(key, replica, start, BudgetPeriodKind.Total, amount: 0.1m, held: Math.Max(0m, (held / 2) + 0.3m));
                },
                Ct))).ToArray();
            try
            {
                await Task.WhenAll(work);
            }
            catch (Exception)
            {
                failures.AddRange(work.Where(w => w.IsFaulted).Select(w => w.Exception!.InnerException!));
            }
        }

        Assert.Empty(failures.Select(f => f.Message));
        foreach (var key in keys)
        {
            var granted = await GrantedAsync(key, BudgetPeriodKind.Total, start);
            var held = await PostgresScalar.ReadAsync<decimal>(
                database.ConnectionString,
                "SELECT coalesce(sum(held), 0) FROM vk.quota_budget_leases WHERE key_id = $1 AND reclaimed_at IS NULL",
                Ct,
                key);
            Assert.True(granted >= held, $"{key}: granted {granted} counts the leases held {held}");
        }
    }

    [Fact]
    public async Task A_sidecar_role_given_rights_on_the_quota_tables_before_the_upgrade_can_lease_dollars_after_it()
    {
        var connectionString = await database.Server.CreateDatabaseAsync("budget_leases_upgrade", Ct);
        await using var owner = RegistryDatabase.Create(connectionString);
        var migrator = new RegistryMigrator(owner);
        await migrator.MigrateAsync(11, Ct);
        var role = "sidecar_" + Guid.NewGuid().ToString("N")[..12];
        try
        {
            await PostgresScalar.ExecuteAsync(
                connectionString,
                $"""
                CREATE ROLE {role} LOGIN;
                GRANT USAGE ON SCHEMA vk TO {role};
                GRANT SELECT ON ALL TABLES IN SCHEMA vk TO {role};
                GRANT INSERT ON vk.usage_events, vk.usage_pending TO {role};
                GRANT INSERT, UPDATE, DELETE ON vk.quota_windows, vk.quota_replicas, vk.quota_slots TO {role};
                GRANT INSERT, UPDATE ON vk.quota_budgets TO {role};
                """,
                Ct);
            await migrator.MigrateAsync(Ct);
            var asSidecar = new NpgsqlConnectionStringBuilder(connectionString) { Username = role, Pooling = false }.ConnectionString;
            await using var sidecarDatabase = RegistryDatabase.Create(asSidecar);
            var ledger = new QuotaLedger(sidecarDatabase);
            var key = NewKeyId();
            var t0 = Tuesday.AddDays(-2);

            var leased = await ledger.GrantAsync(
                new QuotaGrantRequest(key, "a", t0) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Daily, 10m, 4m) { Held = 0m } }, Ttl, Ct);
            await ledger.HeartbeatAsync("b", t0 + Ttl + TimeSpan.FromSeconds(1), Ttl, Ct);
            var forB = await ledger.GrantAsync(
                new QuotaGrantRequest(key, "b", t0 + Ttl + TimeSpan.FromSeconds(1)) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Daily, 10m, 100m) { Held = 0m } }, Ttl, Ct);

            await ledger.LeaveAsync("b", Ct);

            // No function before 0012 deleted from vk.quota_budgets, so such a role may have no DELETE
            // there; the lease rows, which the heartbeat and leave delete, need it all the same.
            Assert.Equal((4m, 10m), (leased.BudgetUsd, forB.BudgetUsd));
        }
        finally
        {
            await PostgresScalar.ExecuteAsync(connectionString, $"DROP OWNED BY {role}; DROP ROLE IF EXISTS {role};", Ct);
        }
    }

    private static string NewKeyId() => "k" + Guid.NewGuid().ToString("N")[..12];

    private static (string Key, string A, string B) Names()
    {
        var key = NewKeyId();
        return (key, "a-" + key, "b-" + key);
    }

    private Task<QuotaGrant> GrantAsync(string key, string replica, DateTimeOffset now, BudgetPeriodKind period, decimal want, decimal held) =>
        _ledger.GrantAsync(new QuotaGrantRequest(key, replica, now) { Budget = new QuotaBudgetAsk(period, 10m, want) { Held = held } }, Ttl, Ct);

    private Task ReturnAsync(string key, string replica, DateTimeOffset leasedAt, BudgetPeriodKind period, decimal amount, decimal held) =>
        _ledger.ReturnAsync(
            new QuotaReturn(key, replica, leasedAt)
            {
                BudgetPeriod = period,
                BudgetPeriodStart = BudgetPeriod.StartOf(period, leasedAt),
                BudgetUsd = amount,
                BudgetHeld = held,
            },
            Ct);

    /// <summary>Spend the usage recorder left in the totals: Total is the sum of a key's months.</summary>
    private Task RecordSpendAsync(string key, BudgetPeriodKind period, DateTimeOffset at, decimal costUsd)
    {
        var (rowPeriod, rowStart) = period == BudgetPeriodKind.Total
            ? ("monthly", BudgetPeriod.StartOf(BudgetPeriodKind.Monthly, at))
            : (period.ToString().ToLowerInvariant(), BudgetPeriod.StartOf(period, at));
        return PostgresScalar.ReadAsync<int>(
            database.ConnectionString,
            "WITH i AS (INSERT INTO vk.usage_totals (key_id, period, period_start, requests, cost_usd, updated_at) VALUES ($1, $2, $3, 1, $4, now()) RETURNING 1) SELECT count(*)::int FROM i",
            Ct,
            key,
            rowPeriod,
            rowStart,
            costUsd);
    }

    private Task<decimal> GrantedAsync(string key, BudgetPeriodKind period, DateTimeOffset at) =>
        PostgresScalar.ReadAsync<decimal>(
            database.ConnectionString,
            "SELECT granted FROM vk.quota_budgets WHERE key_id = $1 AND period = $2 AND period_start = $3",
            Ct,
            key,
            period.ToString().ToLowerInvariant(),
            BudgetPeriod.StartOf(period, at));

    /// <summary>What the ledger counts as leased to the replica and unspent (0 without a live lease row).</summary>
    private Task<decimal> HeldAsync(string key, BudgetPeriodKind period, DateTimeOffset at, string replica) =>
        PostgresScalar.ReadAsync<decimal>(
            database.ConnectionString,
            "SELECT coalesce((SELECT held FROM vk.quota_budget_leases WHERE key_id = $1 AND period = $2 AND period_start = $3 AND replica_id = $4 AND reclaimed_at IS NULL), 0)",
            Ct,
            key,
            period.ToString().ToLowerInvariant(),
            BudgetPeriod.StartOf(period, at),
            replica);

    private async Task<(decimal Held, decimal Assumed, bool Reclaimed)> LeaseRowAsync(string key, BudgetPeriodKind period, DateTimeOffset at, string replica)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(
            "SELECT held, assumed, reclaimed_at IS NOT NULL FROM vk.quota_budget_leases WHERE key_id = $1 AND period = $2 AND period_start = $3 AND replica_id = $4",
            connection);
        command.Parameters.Add(new NpgsqlParameter { Value = key });
        command.Parameters.Add(new NpgsqlParameter { Value = period.ToString().ToLowerInvariant() });
        command.Parameters.Add(new NpgsqlParameter { Value = BudgetPeriod.StartOf(period, at) });
        command.Parameters.Add(new NpgsqlParameter { Value = replica });
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct), "the lease row is there");
        return (reader.GetDecimal(0), reader.GetDecimal(1), reader.GetBoolean(2));
    }
}
