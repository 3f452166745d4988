using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Sidecar.Tests.Limits;

/// <summary>
/// An idle key's return (or a slot grant) whose round trip is lost on the network, through a <see cref="LossyPostgresProxy"/>:
/// PostgreSQL applied it and its answer never came back, or it never reached PostgreSQL. The replica
/// that sent it cannot tell which; whichever it was, the key is not admitted beyond its limit across
/// replicas, and what PostgreSQL still counts for the replica is not lost for good.
/// </summary>
public sealed class LostQuotaReturnTests(PostgresDatabase database) : SharedQuotaTestBase(database), IClassFixture<PostgresDatabase>
{
    private const decimal Cost = 0.10m;

    [Fact]
    public async Task Requests_given_back_by_a_return_whose_answer_was_lost_are_not_admitted_by_the_replica_that_gave_them_back()
    {
        await using var proxy = LossyPostgresProxy.Start(ConnectionString);
        await using var lossyDatabase = RegistryDatabase.Create(proxy.ConnectionString);
        await using var lossy = NewLossyStore(lossyDatabase);
        var other = NewStore(new QuotaLedger(Database));
        var key = NewKeyId();
        var demand = new QuotaDemand(new KeyLimits(RequestsPerMinute: 600), null, 0, 0m);
        await lossy.HeartbeatNowAsync(Cancel);
        Assert.Equal(1, await AdmitUntilRefusedAsync(lossy, key, demand, max: 1));

        // The 29 requests left of its lease of 30 go back: the pool has them, the replica never hears so.
        await LoseReturnAsync(proxy, lossy, "vk.quota_return_window", delivered: true, applied: () => WindowGrantedAsync(key, 1));
        var byOther = await AdmitUntilRefusedAsync(other, key, demand);
        var byLossy = await AdmitUntilRefusedAsync(lossy, key, demand);

        Assert.Equal(599, byOther);
        Assert.Equal(0, byLossy);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task Parallel_slots_of_a_lost_return_are_neither_held_twice_nor_left_counted(bool delivered, bool idlePassAfter)
    {
        await using var proxy = LossyPostgresProxy.Start(ConnectionString);
        await using var lossyDatabase = RegistryDatabase.Create(proxy.ConnectionString);
        await using var lossy = NewLossyStore(lossyDatabase);
        var other = NewStore(new QuotaLedger(Database));
        var key = NewKeyId();
        var demand = new QuotaDemand(new KeyLimits(MaxParallelRequests: 2), null, 0, 0m);
        await lossy.HeartbeatNowAsync(Cancel);
        Assert.Equal(1, await AdmitUntilRefusedAsync(lossy, key, demand, max: 1));

        // The slot it held goes back, or does not (the statement of this release and the one before
        // both name vk.quota_slots, the only thing the return sends).
        await LoseReturnAsync(proxy, lossy, "_slots", delivered, applied: () => SlotsHeldAsync(key, lossy.ReplicaId, 0));
        if (idlePassAfter)
        {
            // The idle key's next pass says what the replica holds: none, so what PostgreSQL counts goes back.
            await lossy.ReturnIdleNowAsync(Cancel);
        }

        var byOther = new[] { await other.TryAdmitAsync(key, demand, Cancel), await other.TryAdmitAsync(key, demand, Cancel) };
        var byLossy = await lossy.TryAdmitAsync(key, demand, Cancel);

        Assert.All(byOther, d => Assert.True(d.Admitted, "the other replica runs the key's two requests in parallel"));
        Assert.False(byLossy.Admitted, "a third request in parallel");
        Assert.Equal(QuotaRefusalReason.ParallelRequests, byLossy.Reason);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Slots_of_a_grant_whose_answer_was_lost_are_corrected_by_the_keys_next_return_or_slot_grant(bool idle)
    {
        await using var proxy = LossyPostgresProxy.Start(ConnectionString);
        await using var lossyDatabase = RegistryDatabase.Create(proxy.ConnectionString);
        await using var lossy = NewLossyStore(lossyDatabase);
        var other = NewStore(new QuotaLedger(Database));
        var key = NewKeyId();
        var demand = new QuotaDemand(new KeyLimits(MaxParallelRequests: 2), null, 0, 0m);
        await lossy.HeartbeatNowAsync(Cancel);

        // PostgreSQL counts a slot for the replica; the replica never hears of it.
        var caught = proxy.LoseNextAsync("vk.quota_grant_slots", delivered: true);
        var admitting = lossy.TryAdmitAsync(key, demand, Cancel).AsTask();
        await caught.WaitAsync(TimeSpan.FromSeconds(30), Cancel);
        Assert.True(await EventuallyAsync(() => SlotsHeldAsync(key, lossy.ReplicaId, 1)), "PostgreSQL applied the grant");
        proxy.CutCaught();
        var lost = await admitting;
        if (lost.Admitted)
        {
            await lossy.SettleAsync(lost.Ticket, 0, 0m, Cancel);
        }

        await lossy.HeartbeatNowAsync(Cancel);
        if (idle)
        {
            // The idle key's return says what the replica holds: nothing.
            Time.Advance(TimeSpan.FromSeconds(6));
            await lossy.ReturnIdleNowAsync(Cancel);
            Assert.True(await SlotsHeldAsync(key, lossy.ReplicaId, 0), "the idle key's return brought the replica's count down to what it holds");
            var byOther = new[] { await other.TryAdmitAsync(key, demand, Cancel), await other.TryAdmitAsync(key, demand, Cancel) };
            Assert.All(byOther, d => Assert.True(d.Admitted, "the other replica runs the key's two requests in parallel"));
        }
        else
        {
            // A busy key reaches no idle pass: its next request asks for a slot again, and says first what it holds.
            Assert.True((await lossy.TryAdmitAsync(key, demand, Cancel)).Admitted);
            Assert.True(await SlotsHeldAsync(key, lossy.ReplicaId, 1), "PostgreSQL counts the one slot the replica holds, not the lost one too");
            Assert.True((await other.TryAdmitAsync(key, demand, Cancel)).Admitted, "the other replica runs the key's second request");
        }
    }

    [Theory]
    [InlineData(true, false, 9, 0)]
    [InlineData(false, false, 5, 4)]
    [InlineData(false, true, 9, 0)]
    public async Task Dollars_of_a_lost_return_are_spent_once_across_replicas(bool delivered, bool idlePassesAfter, int expectedByOther, int expectedByLossy)
    {
        await using var proxy = LossyPostgresProxy.Start(ConnectionString);
        await using var lossyDatabase = RegistryDatabase.Create(proxy.ConnectionString);
        await using var lossy = NewLossyStore(lossyDatabase, leaseFraction: 0.5);
        var other = NewStore(new QuotaLedger(Database), o => o.LeaseFraction = 0.1);
        var key = NewKeyId();
        var demand = new QuotaDemand(KeyLimits.None, new KeyBudget(1.00m, BudgetPeriod.Daily), 0, Cost);
        await lossy.HeartbeatNowAsync(Cancel);
        Assert.Equal(1, await AdmitUntilRefusedAsync(lossy, key, demand, max: 1));

        // The 0.40 left of its lease of 0.50 goes back to the pool, or does not.
        await LoseReturnAsync(proxy, lossy, "vk.quota_return_budget_lease", delivered, applied: () => BudgetGrantedAsync(key, 0.10m));
        if (idlePassesAfter)
        {
            // The idle key's next passes ask what of the lease is still this replica's, then give that back.
            await lossy.ReturnIdleNowAsync(Cancel);
            await lossy.ReturnIdleNowAsync(Cancel);
        }

        var byOther = await AdmitUntilRefusedAsync(other, key, demand);
        var byLossy = await AdmitUntilRefusedAsync(lossy, key, demand);

        // Ten requests of 0.10 in all, the first one included: the cap, and not a request more.
        Assert.Equal(expectedByOther, byOther);
        Assert.Equal(expectedByLossy, byLossy);
    }

    /// <summary>
    /// The idle key's next return, lost on its way: <paramref name="delivered"/> to PostgreSQL, which
    /// applies it (<paramref name="applied"/> tells when), or dropped. Then the connection breaks. The
    /// replica took PostgreSQL for away; a heartbeat has it answer again.
    /// </summary>
    private async Task LoseReturnAsync(LossyPostgresProxy proxy, SharedQuotaStore store, string statement, bool delivered, Func<Task<bool>> applied)
    {
        Time.Advance(TimeSpan.FromSeconds(6));
        var caught = proxy.LoseNextAsync(statement, delivered);
        var returning = store.ReturnIdleNowAsync(Cancel);
        await caught.WaitAsync(TimeSpan.FromSeconds(30), Cancel);
        if (delivered)
        {
            Assert.True(await EventuallyAsync(applied), "PostgreSQL applied the return");
        }

        proxy.CutCaught();
        await returning;
        Assert.True(store.Health.Degraded, "the lost connection counts as PostgreSQL being away");
        await store.HeartbeatNowAsync(Cancel);
        Assert.False(store.Health.Degraded);
    }

    /// <summary>A replica whose statements go through the proxy, with a return deadline past the time a test takes to lose one.</summary>
    private SharedQuotaStore NewLossyStore(RegistryDatabase database, double leaseFraction = 0.05) =>
        new(
            new QuotaLedger(database),
            new QuotaOptions
            {
                ReplicaId = "lossy-" + Guid.NewGuid().ToString("N")[..8],
                LeaseFraction = leaseFraction,
                RefillTimeout = TimeSpan.FromSeconds(30),
                ReplicaTtl = TimeSpan.FromMinutes(4),
            },
            Time);

    /// <summary>Admits one request at a time, each settled at once (at <see cref="Cost"/> when the key has a budget), until refused or <paramref name="max"/>.</summary>
    private static async Task<int> AdmitUntilRefusedAsync(SharedQuotaStore store, string key, QuotaDemand demand, int max = 1_000)
    {
        var admitted = 0;
        while (admitted < max)
        {
            var decision = await store.TryAdmitAsync(key, demand, Cancel);
            if (!decision.Admitted)
            {
                break;
            }

            admitted++;
            await store.SettleAsync(decision.Ticket, 0, demand.Budget is null ? 0m : Cost, Cancel);
        }

        return admitted;
    }

    private async Task<bool> WindowGrantedAsync(string key, long granted) =>
        await PostgresScalar.ReadAsync<long>(
            ConnectionString,
            "SELECT granted FROM vk.quota_windows WHERE key_id = $1 AND dimension = 'requests' AND window_start = $2",
            Cancel,
            key,
            QuotaLedger.WindowOf(Start).UtcDateTime) == granted;

    private async Task<bool> SlotsHeldAsync(string key, string replicaId, int slots) =>
        await PostgresScalar.ReadAsync<int>(
            ConnectionString,
            "SELECT coalesce(sum(slots), 0)::int FROM vk.quota_slots WHERE key_id = $1 AND replica_id = $2",
            Cancel,
            key,
            replicaId) == slots;

    private async Task<bool> BudgetGrantedAsync(string key, decimal granted) =>
        await PostgresScalar.ReadAsync<decimal>(
            ConnectionString,
            "SELECT coalesce(sum(granted), 0) FROM vk.quota_budgets WHERE key_id = $1",
            Cancel,
            key) == granted;
}
