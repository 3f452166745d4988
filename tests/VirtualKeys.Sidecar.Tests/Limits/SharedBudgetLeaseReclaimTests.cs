using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Testing.Postgres;
using RegistryBudgetPeriod = VirtualKeys.Registry.Usage.BudgetPeriod;
using RegistryBudgetPeriodKind = VirtualKeys.Registry.Usage.BudgetPeriodKind;

namespace VirtualKeys.Sidecar.Tests.Limits;

/// <summary>
/// A dollar budget shared by two <see cref="SharedQuotaStore"/> replicas when one of them is killed
/// or cut off while it holds a lease (migration 0012). A killed replica is a store nobody stops: it
/// neither gives its lease back nor heartbeats again.
/// </summary>
public sealed class SharedBudgetLeaseReclaimTests(PostgresDatabase database) : SharedQuotaTestBase(database), IClassFixture<PostgresDatabase>
{
    /// <summary>What every request reserves and costs: a tenth of the budget, the other replica's lease block.</summary>
    private const decimal Cost = 0.10m;

    [Theory]
    [InlineData(BudgetPeriod.Total)]
    [InlineData(BudgetPeriod.Daily)]
    public async Task After_a_killed_replicas_heartbeat_lapses_the_other_spends_the_budget_up_to_the_cap_less_what_the_killed_one_spent(BudgetPeriod period)
    {
        var ledger = new QuotaLedger(Database);
        var killed = Unstopped(ledger, leaseFraction: 0.5);
        var survivor = NewStore(ledger, o => o.LeaseFraction = 0.1);
        var key = NewKeyId();
        var demand = new QuotaDemand(KeyLimits.None, new KeyBudget(1.00m, period), 0, Cost);
        await killed.HeartbeatNowAsync(Cancel);
        await survivor.HeartbeatNowAsync(Cancel);

        // The killed replica leases half the budget, spends 0.20 of it (its usage reached the
        // registry), and dies holding the other 0.30.
        Assert.Equal(2, await AdmitUntilRefusedAsync(killed, key, demand, max: 2));
        await RecordSpendAsync(key, period, 0.20m);
        var beforeTtl = await AdmitUntilRefusedAsync(survivor, key, demand);

        Time.Advance(new QuotaOptions().ReplicaTtl + TimeSpan.FromSeconds(1));
        await survivor.HeartbeatNowAsync(Cancel);
        var afterTtl = await AdmitUntilRefusedAsync(survivor, key, demand);

        Assert.Equal(5, beforeTtl);
        Assert.Equal(3, afterTtl);
    }

    [Fact]
    public async Task A_replica_taken_for_dead_that_comes_back_neither_spends_nor_gives_back_the_lease_it_lost()
    {
        var (ledger, cutOff, other, key, demand) = await LeaseHalfAndSpendOneAsync();

        // Cut off past the TTL: the other replica's heartbeat gives back the 0.40 it had not spent,
        // and the other replica spends the rest of the budget.
        Time.Advance(new QuotaOptions().ReplicaTtl + TimeSpan.FromSeconds(1));
        await other.HeartbeatNowAsync(Cancel);
        var byOther = await AdmitUntilRefusedAsync(other, key, demand);

        // Back: its heartbeat says it lapsed, it gives back what it thinks it holds, and asks to admit.
        await cutOff.HeartbeatNowAsync(Cancel);
        await cutOff.ReturnIdleNowAsync(Cancel);
        var byCutOffAfter = await AdmitUntilRefusedAsync(cutOff, key, demand);
        Time.Advance(TimeSpan.FromSeconds(2));
        var byOtherAfter = await AdmitUntilRefusedAsync(other, key, demand);

        Assert.Equal(9, byOther);
        Assert.Equal(0, byCutOffAfter);
        Assert.Equal(0, byOtherAfter);
        Assert.Equal(1.00m, await GrantedAsync(key));
    }

    [Fact]
    public async Task A_replica_taken_for_dead_that_comes_back_asks_before_it_spends_its_lease_again()
    {
        var (ledger, cutOff, other, key, demand) = await LeaseHalfAndSpendOneAsync();

        Time.Advance(new QuotaOptions().ReplicaTtl + TimeSpan.FromSeconds(1));
        await other.HeartbeatNowAsync(Cancel);
        var byOther = await AdmitUntilRefusedAsync(other, key, demand, max: 5);

        // Its lease of 0.40 went back to the pool; 0.40 is left there, which it may lease again.
        await cutOff.HeartbeatNowAsync(Cancel);
        var tripsBefore = ledger.RoundTrips;
        var byCutOff = await AdmitUntilRefusedAsync(cutOff, key, demand);
        var byOtherAfter = await AdmitUntilRefusedAsync(other, key, demand);

        Assert.Equal(5, byOther);
        Assert.Equal(4, byCutOff + byOtherAfter);
        Assert.True(ledger.RoundTrips > tripsBefore, "the replica that came back asked the ledger before it admitted");
        Assert.Equal(1.00m, await GrantedAsync(key));
    }

    [Fact]
    public async Task A_replica_paused_past_the_ttl_asks_before_it_spends_its_lease_even_before_its_next_heartbeat()
    {
        var (ledger, paused, other, key, demand) = await LeaseHalfAndSpendOneAsync();

        // Paused (no heartbeat, no grant) past the TTL: the other replica takes the 0.40 back and
        // spends the rest of the cap. The paused one then admits before any heartbeat of its own.
        Time.Advance(new QuotaOptions().ReplicaTtl + TimeSpan.FromSeconds(1));
        await other.HeartbeatNowAsync(Cancel);
        var byOther = await AdmitUntilRefusedAsync(other, key, demand);
        var tripsBefore = ledger.RoundTrips;
        var byPaused = await AdmitUntilRefusedAsync(paused, key, demand);

        Assert.Equal(9, byOther);
        Assert.Equal(0, byPaused);
        Assert.True(ledger.RoundTrips > tripsBefore, "the paused replica asked the ledger before it admitted");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_replica_cut_off_past_the_ttl_stops_spending_the_lease_the_other_took_back_and_keeps_to_its_share(bool requestInFlight)
    {
        // A database of its own: the outage share divides by the live replicas, and the class's
        // database holds other tests' replicas, present on the same fake clock.
        var connectionString = await Server.CreateDatabaseAsync("cutoff", Cancel);
        try
        {
            await using var registry = RegistryDatabase.Create(connectionString);
            await new RegistryMigrator(registry).MigrateAsync(Cancel);

            // The cut-off replica logs in as a role of its own, which the test then locks out.
            await using var role = await Server.CreateRoleWithoutRightsAsync(connectionString, "cutoff", Cancel);
            await Server.ExecuteAsync($"ALTER ROLE {role.Name} SUPERUSER", Cancel);
            await using var cutOffRegistry = RegistryDatabase.Create(role.ConnectionString);
            var cutOff = Unstopped(new QuotaLedger(cutOffRegistry), leaseFraction: 0.5);
            await using var other = new SharedQuotaStore(new QuotaLedger(registry), new QuotaOptions { ReplicaId = "other", LeaseFraction = 0.1 }, Time);
            var key = NewKeyId();
            var demand = new QuotaDemand(KeyLimits.None, new KeyBudget(1.00m, BudgetPeriod.Daily), 0, Cost);
            await cutOff.HeartbeatNowAsync(Cancel);
            await other.HeartbeatNowAsync(Cancel);
            Assert.Equal(1, await AdmitUntilRefusedAsync(cutOff, key, demand, max: 1));
            await RecordSpendAsync(key, BudgetPeriod.Daily, Cost, connectionString);

            // Optionally a request in flight through the outage, reserving 0.20 of the lease.
            QuotaTicket? inFlight = null;
            if (requestInFlight)
            {
                var admitted = await cutOff.TryAdmitAsync(key, demand with { EstimatedCostUsd = 0.20m }, Cancel);
                Assert.True(admitted.Admitted);
                inFlight = admitted.Ticket;
            }

            await Server.ExecuteAsync($"ALTER ROLE {role.Name} NOLOGIN", Cancel);
            await Server.ExecuteAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role.Name}'", Cancel);
            await cutOff.HeartbeatNowAsync(Cancel);
            Assert.True(cutOff.Health.Degraded);
            Assert.Equal(2, cutOff.Health.LiveReplicas);

            // Past the TTL the other replica takes the unspent 0.40 back and spends the rest of the cap.
            Time.Advance(new QuotaOptions().ReplicaTtl + TimeSpan.FromSeconds(1));
            await other.HeartbeatNowAsync(Cancel);
            var byOther = await AdmitUntilRefusedAsync(other, key, demand);
            var byCutOff = await AdmitUntilRefusedAsync(cutOff, key, demand);
            if (inFlight is { } ticket)
            {
                // The reservation in flight counted against the share; settled for nothing, it goes
                // back to the share, not to the lease the other replica may be spending.
                await cutOff.SettleAsync(ticket, 0, 0m, Cancel);
                byCutOff += await AdmitUntilRefusedAsync(cutOff, key, demand);
            }

            // The cut-off replica admits from its share alone: half of the 0.50 the pool had left at
            // its grant, two live replicas. Admitted while above zero: 0.25, 0.15, 0.05. Spending its
            // old lease too, it would have admitted four more on top (two more with the request in
            // flight, whose refund it would have spent from the lease).
            Assert.Equal(9, byOther);
            Assert.Equal(3, byCutOff);
        }
        finally
        {
            await Server.DropDatabaseAsync(connectionString, Cancel);
        }
    }

    /// <summary>
    /// A $1.00 daily budget and two present replicas: the first, never stopped, leases half of it and
    /// spends one request (recorded); the second leases a tenth at a time.
    /// </summary>
    private async Task<(QuotaLedger Ledger, SharedQuotaStore Lapsing, SharedQuotaStore Other, string Key, QuotaDemand Demand)> LeaseHalfAndSpendOneAsync()
    {
        var ledger = new QuotaLedger(Database);
        var lapsing = Unstopped(ledger, leaseFraction: 0.5);
        var other = NewStore(ledger, o => o.LeaseFraction = 0.1);
        var key = NewKeyId();
        var demand = new QuotaDemand(KeyLimits.None, new KeyBudget(1.00m, BudgetPeriod.Daily), 0, Cost);
        await lapsing.HeartbeatNowAsync(Cancel);
        await other.HeartbeatNowAsync(Cancel);
        Assert.Equal(1, await AdmitUntilRefusedAsync(lapsing, key, demand, max: 1));
        await RecordSpendAsync(key, BudgetPeriod.Daily, Cost);
        return (ledger, lapsing, other, key, demand);
    }

    /// <summary>A replica the test never stops: killed, it gives nothing back.</summary>
    private SharedQuotaStore Unstopped(QuotaLedger ledger, double leaseFraction) =>
        new(ledger, new QuotaOptions { ReplicaId = "killed-" + Guid.NewGuid().ToString("N")[..8], LeaseFraction = leaseFraction }, Time);

    /// <summary>Admits one request at a time, each settled at <see cref="Cost"/>, until refused or <paramref name="max"/>.</summary>
    private static async Task<int> AdmitUntilRefusedAsync(SharedQuotaStore store, string key, QuotaDemand demand, int max = 1_000)
    {
        var admitted = 0;
        while (admitted < max)
        {
            var decision = await store.TryAdmitAsync(key, demand, Cancel);
            if (!decision.Admitted)
            {
                Assert.Equal(QuotaRefusalReason.Budget, decision.Reason);
                break;
            }

            admitted++;
            await store.SettleAsync(decision.Ticket, 0, Cost, Cancel);
        }

        return admitted;
    }

    /// <summary>What a replica's usage flush leaves in the totals (a Total budget is the sum of a key's months).</summary>
    private Task RecordSpendAsync(string key, BudgetPeriod period, decimal costUsd, string? connectionString = null)
    {
        var (rowPeriod, rowStart) = period == BudgetPeriod.Total
            ? ("monthly", RegistryBudgetPeriod.StartOf(RegistryBudgetPeriodKind.Monthly, Time.GetUtcNow()))
            : ("daily", RegistryBudgetPeriod.StartOf(RegistryBudgetPeriodKind.Daily, Time.GetUtcNow()));
        return PostgresScalar.ReadAsync<int>(
            connectionString ?? ConnectionString,
            "WITH i AS (INSERT INTO vk.usage_totals (key_id, period, period_start, requests, cost_usd, updated_at) VALUES ($1, $2, $3, 1, $4, now()) RETURNING 1) SELECT count(*)::int FROM i",
            Cancel,
            key,
            rowPeriod,
            rowStart,
            costUsd);
    }

    private Task<decimal> GrantedAsync(string key) =>
        PostgresScalar.ReadAsync<decimal>(
            ConnectionString,
            "SELECT granted FROM vk.quota_budgets WHERE key_id = $1 AND period = 'daily' AND period_start = $2",
            Cancel,
            key,
            RegistryBudgetPeriod.StartOf(RegistryBudgetPeriodKind.Daily, Time.GetUtcNow()));
}
