using Npgsql;
using NpgsqlTypes;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

/// <summary>The shared quota counters on a real PostgreSQL; times are explicit, so no clock is needed.</summary>
public sealed class QuotaLedgerTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private static readonly DateTimeOffset Monday = new(2026, 3, 2, 10, 15, 20, TimeSpan.Zero);
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(20);

    /// <summary>Takes key $1's budget rows in an open transaction, as a grant or return of that key does.</summary>
    private const string LockBudgetRow = "SELECT 1 FROM vk.quota_budgets WHERE key_id = $1 FOR UPDATE";
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

    [Fact]
    public async Task Parallel_grants_hand_out_exactly_the_limit_and_never_more()
    {
        var key = NewKeyId();
        var grants = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => _ledger.GrantAsync(
            new QuotaGrantRequest(key, "replica-" + (i % 3), Monday)
            {
                Requests = new QuotaWindowAsk(600, 17),
                Tokens = new QuotaWindowAsk(10_000, 250),
            },
            Ttl,
            Ct)));

        Assert.Equal(600, grants.Sum(g => g.Requests));
        Assert.Equal(10_000, grants.Sum(g => g.Tokens));
        Assert.All(grants, g => Assert.InRange(g.Requests, 0, 17));
        Assert.All(grants, g => Assert.InRange(g.Tokens, 0, 250));
    }

    [Fact]
    public async Task A_grant_says_what_is_left_of_the_window_so_the_one_that_empties_it_knows()
    {
        var key = NewKeyId();
        var first = await GrantRequestsAsync(key, Monday, want: 450);
        var emptying = await GrantRequestsAsync(key, Monday.AddSeconds(1), want: 150);
        var tokens = await _ledger.GrantAsync(new QuotaGrantRequest(key, "a", Monday) { Tokens = new QuotaWindowAsk(1_000, 400) }, Ttl, Ct);
        var budgetOnly = await _ledger.GrantAsync(new QuotaGrantRequest(key, "a", Monday) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Daily, 5m, 1m) }, Ttl, Ct);

        Assert.Equal(450, first.Requests);
        Assert.Equal(150, first.RequestsLeft);
        Assert.Equal(150, emptying.Requests);
        Assert.Equal(0, emptying.RequestsLeft);
        Assert.Equal(400, tokens.Tokens);
        Assert.Equal(600, tokens.TokensLeft);
        Assert.Null(budgetOnly.RequestsLeft);
        Assert.Null(budgetOnly.TokensLeft);
    }

    [Fact]
    public async Task A_returned_lease_is_granted_again_and_a_new_window_starts_empty()
    {
        var key = NewKeyId();
        var first = await GrantRequestsAsync(key, Monday, want: 600);
        await _ledger.ReturnAsync(new QuotaReturn(key, "a", Monday) { Requests = 100 }, Ct);
        var afterReturn = await GrantRequestsAsync(key, Monday.AddSeconds(5), want: 300);
        var nextMinute = await GrantRequestsAsync(key, Monday.AddMinutes(1), want: 300);

        Assert.Equal(600, first.Requests);
        Assert.Equal(100, afterReturn.Requests);
        Assert.Equal(300, nextMinute.Requests);
        Assert.Equal(Monday.AddSeconds(-20), first.WindowStart);
    }

    [Fact]
    public async Task Charged_use_counts_even_beyond_the_limit()
    {
        var key = NewKeyId();
        var charged = await _ledger.GrantAsync(new QuotaGrantRequest(key, "a", Monday) { Requests = new QuotaWindowAsk(100, 10, Charge: 95) }, Ttl, Ct);
        var overCharged = await _ledger.GrantAsync(new QuotaGrantRequest(key, "b", Monday) { Requests = new QuotaWindowAsk(100, 10, Charge: 20) }, Ttl, Ct);
        var after = await _ledger.GrantAsync(new QuotaGrantRequest(key, "c", Monday) { Requests = new QuotaWindowAsk(100, 10) }, Ttl, Ct);

        Assert.Equal(5, charged.Requests);
        Assert.Equal(0, overCharged.Requests);
        Assert.Equal(0, after.Requests);
    }

    [Fact]
    public async Task A_budget_pool_starts_from_the_recorded_spend_and_renews_with_the_period()
    {
        var key = NewKeyId();
        await RecordSpendAsync(key, BudgetPeriod.StartOf(BudgetPeriodKind.Daily, Monday), 3.25m);

        var first = await GrantBudgetAsync(key, Monday, want: 10m);
        var empty = await GrantBudgetAsync(key, Monday.AddMinutes(5), want: 1m);
        await _ledger.ReturnAsync(new QuotaReturn(key, "a", Monday) { BudgetPeriod = BudgetPeriodKind.Daily, BudgetPeriodStart = first.BudgetPeriodStart, BudgetUsd = 0.5m }, Ct);
        var returned = await GrantBudgetAsync(key, Monday.AddMinutes(6), want: 1m);
        var nextDay = await GrantBudgetAsync(key, Monday.AddDays(1), want: 2m);

        Assert.Equal(1.75m, first.BudgetUsd);
        Assert.Equal(0m, first.BudgetRemainingUsd);
        Assert.Equal(0m, empty.BudgetUsd);
        Assert.Equal(0.5m, returned.BudgetUsd);
        Assert.Equal(2m, nextDay.BudgetUsd);
        Assert.Equal(3m, nextDay.BudgetRemainingUsd);
        Assert.Equal(new DateTimeOffset(2026, 3, 3, 0, 0, 0, TimeSpan.Zero), nextDay.BudgetPeriodStart);
    }

    [Fact]
    public async Task Spend_charged_after_its_usage_was_recorded_is_counted_once()
    {
        // A replica spent its $0.20 lease and $0.30 beyond it (its share while the counters were
        // away); the usage reached the totals first, then the charge for the $0.30 came with a grant.
        var key = NewKeyId();
        var lease = await GrantBudgetAsync(key, Monday, want: 0.20m);
        await RecordSpendAsync(key, BudgetPeriod.StartOf(BudgetPeriodKind.Daily, Monday), 0.50m);

        var after = await _ledger.GrantAsync(
            new QuotaGrantRequest(key, "a", Monday.AddMinutes(1)) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Daily, 5m, 1m, 0.30m) },
            Ttl,
            Ct);

        Assert.Equal(0.20m, lease.BudgetUsd);
        Assert.Equal(1m, after.BudgetUsd);
        Assert.Equal(5m - 0.50m - 1m, after.BudgetRemainingUsd);
    }

    [Fact]
    public async Task Parallel_budget_grants_never_exceed_the_cap()
    {
        var key = NewKeyId();
        var grants = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => _ledger.GrantAsync(
            new QuotaGrantRequest(key, "replica-" + (i % 4), Monday) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Monthly, 5m, 0.3m) },
            Ttl,
            Ct)));

        Assert.Equal(5m, grants.Sum(g => g.BudgetUsd));
    }

    [Fact]
    public async Task Slots_of_a_replica_whose_heartbeat_lapsed_are_freed_for_the_live_ones()
    {
        var key = NewKeyId();
        var a = "a-" + key;
        var b = "b-" + key;
        await _ledger.HeartbeatAsync(a, Monday, Ttl, Ct);
        await _ledger.HeartbeatAsync(b, Monday, Ttl, Ct);
        var heldByA = await GrantSlotsAsync(key, a, Monday, want: 4);
        var bWhileALives = await GrantSlotsAsync(key, b, Monday.AddSeconds(1), want: 2);
        await _ledger.HeartbeatAsync(b, Monday.AddSeconds(15), Ttl, Ct);

        var later = Monday + Ttl + TimeSpan.FromSeconds(1);
        var beat = await _ledger.HeartbeatAsync(b, later, Ttl, Ct);
        var bAfterALapsed = await GrantSlotsAsync(key, b, later, want: 4);
        var aComesBack = await _ledger.HeartbeatAsync(a, later.AddSeconds(1), Ttl, Ct);
        var aAfterRejoining = await GrantSlotsAsync(key, a, later.AddSeconds(1), want: 4);

        Assert.Equal(4, heldByA.Slots);
        Assert.Equal(0, bWhileALives.Slots);
        Assert.Equal(1, beat.LiveReplicas);
        Assert.False(beat.Rejoined);
        Assert.Equal(4, bAfterALapsed.Slots);
        Assert.True(aComesBack.Rejoined);
        Assert.Equal(2, aComesBack.LiveReplicas);
        Assert.Equal(0, aAfterRejoining.Slots);
    }

    [Fact]
    public async Task A_grant_keeps_a_live_replica_alive_for_the_others_but_never_brings_back_a_lapsed_one()
    {
        // A day before the other tests' times, so that their heartbeats do not forget these replicas.
        var start = Monday.AddDays(-1);
        var key = NewKeyId();
        var a = "a-" + key;
        var b = "b-" + key;
        await _ledger.HeartbeatAsync(a, start, Ttl, Ct);
        var heldByA = await GrantSlotsAsync(key, a, start.AddSeconds(1), want: 4);
        var refresh = await _ledger.GrantAsync(new QuotaGrantRequest(key, a, start.AddSeconds(15)) { Requests = new QuotaWindowAsk(600, 10) }, Ttl, Ct);

        // 30 s after a's heartbeat (Ttl 20 s): only the grant at 15 s keeps a's slots counted.
        var bWhileAIsPresent = await GrantSlotsAsync(key, b, start.AddSeconds(30), want: 4);
        var afterLapse = await _ledger.GrantAsync(new QuotaGrantRequest(key, a, start.AddSeconds(40)) { Requests = new QuotaWindowAsk(600, 10) }, Ttl, Ct);
        var bAfterALapsed = await GrantSlotsAsync(key, b, start.AddSeconds(40), want: 4);
        var aHeartbeat = await _ledger.HeartbeatAsync(a, start.AddSeconds(41), Ttl, Ct);
        var stranger = await _ledger.GrantAsync(new QuotaGrantRequest(key, "never-seen-" + key, start.AddSeconds(41)) { Requests = new QuotaWindowAsk(600, 1) }, Ttl, Ct);

        Assert.Equal(4, heldByA.Slots);
        Assert.True(refresh.Present);
        Assert.InRange(refresh.LiveReplicas, 1, int.MaxValue);
        Assert.Equal(0, bWhileAIsPresent.Slots);
        Assert.False(afterLapse.Present);
        Assert.Equal(10, afterLapse.Requests);
        Assert.Equal(4, bAfterALapsed.Slots);
        Assert.True(aHeartbeat.Rejoined);
        Assert.False(stranger.Present);
    }

    [Fact]
    public async Task Replicas_that_all_lapsed_can_rejoin_at_the_same_moment_without_a_deadlock()
    {
        // As after a PostgreSQL outage longer than the TTL: every replica's heartbeat has lapsed, and
        // they all come back at once. Two days before the other tests' times, so that none is forgotten.
        var start = Monday.AddDays(-2);
        var replicas = Enumerable.Range(0, 4).Select(i => $"r{i}-{NewKeyId()}").ToArray();
        var failures = new List<Exception>();
        for (var round = 0; round < 60; round++)
        {
            var at = start + (Ttl + TimeSpan.FromSeconds(1)) * round;
            var beats = replicas.Select(r => Task.Run(() => _ledger.HeartbeatAsync(r, at, Ttl, Ct), Ct)).ToArray();
            try
            {
                await Task.WhenAll(beats);
            }
            catch (Exception)
            {
                failures.AddRange(beats.Where(b => b.IsFaulted).Select(b => b.Exception!.InnerException!));
            }
        }

        Assert.Empty(failures.Select(f => f.Message));

        // Every one of them is back (other tests' replicas may be live at these times too).
        await using var connection = await _database.OpenConnectionAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM vk.quota_replicas WHERE replica_id = ANY($1) AND last_seen = $2", connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = replicas });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = (start + (Ttl + TimeSpan.FromSeconds(1)) * 59).UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        Assert.Equal(4L, await command.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task Returned_slots_and_a_leaving_replica_free_their_slots_at_once()
    {
        var key = NewKeyId();
        var a = "a-" + key;
        var b = "b-" + key;
        await GrantSlotsAsync(key, a, Monday, want: 4);
        await _ledger.ReturnAsync(new QuotaReturn(key, a, Monday) { Slots = 1 }, Ct);
        var afterReturn = await GrantSlotsAsync(key, b, Monday, want: 4);
        await _ledger.LeaveAsync(a, Ct);
        var afterLeave = await GrantSlotsAsync(key, b, Monday, want: 4);

        Assert.Equal(1, afterReturn.Slots);
        Assert.Equal(3, afterLeave.Slots);
    }

    [Fact]
    public async Task A_return_that_says_what_slots_it_keeps_frees_nothing_twice_when_sent_again()
    {
        var key = NewKeyId();
        var a = "a-" + key;
        var b = "b-" + key;
        await GrantSlotsAsync(key, a, Monday, want: 3);
        var slotReturn = new QuotaReturn(key, a, Monday) { Slots = 1, SlotsKept = 2 };
        await _ledger.ReturnAsync(slotReturn, Ct);
        await _ledger.ReturnAsync(slotReturn, Ct);
        var forB = await GrantSlotsAsync(key, b, Monday, want: 4);

        Assert.Equal(2, forB.Slots);
    }

    /// <summary>What the usage recorder leaves in usage_totals for a day's spend.</summary>
    private async Task RecordSpendAsync(string key, DateTimeOffset periodStart, decimal costUsd)
    {
        await using var connection = await _database.OpenConnectionAsync(Ct);
        await using var command = new NpgsqlCommand(
            "INSERT INTO vk.usage_totals (key_id, period, period_start, requests, cost_usd, updated_at) VALUES ($1, 'daily', $2, 1, $3, now())",
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = periodStart.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = costUsd });
        await command.ExecuteNonQueryAsync(Ct);
    }

    [Fact]
    public async Task A_grant_held_up_on_a_keys_budget_holds_none_of_its_window_rows()
    {
        // A key that just gained its budget reads all of its usage at a grant (migration 0011), which
        // can take a while: other replicas' request and token grants for the key must not queue
        // behind that. Here a session holding the budget row stands in for the long read.
        var key = NewKeyId();
        await _ledger.GrantAsync(new QuotaGrantRequest(key, "a", Monday) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Daily, 5m, 1m) }, Ttl, Ct);
        var holder = await OpenTransaction.BeginAsync(database.ConnectionString, Ct);
        Task<QuotaGrant>? heldUp = null;
        try
        {
            await holder.ExecuteAsync(LockBudgetRow, Ct, key);
            heldUp = _ledger.GrantAsync(
                new QuotaGrantRequest(key, "a", Monday) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Daily, 5m, 1m), Requests = new QuotaWindowAsk(100, 10) },
                Ttl,
                Ct);
            await WaitForLockWaitersAsync(1);
            var other = await _ledger.GrantAsync(new QuotaGrantRequest(key, "b", Monday) { Requests = new QuotaWindowAsk(100, 10) }, Ttl, Ct)
                .WaitAsync(TimeSpan.FromSeconds(30), Ct);
            var stillHeld = !heldUp.IsCompleted;
            await holder.RollbackAsync(Ct);
            var held = await heldUp;

            Assert.True(stillHeld);
            Assert.Equal(10, other.Requests);
            Assert.Equal((10L, 1m), (held.Requests, held.BudgetUsd));
        }
        finally
        {
            await holder.DisposeAsync();
            if (heldUp is not null)
            {
                await Task.WhenAny(heldUp);
            }
        }
    }

    [Fact]
    public async Task A_grant_rolled_back_to_break_a_deadlock_is_sent_again()
    {
        var (granting, roundTrips) = await DeadlockAGrantAsync(_ledger);
        var granted = await granting.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal((10L, 1m), (granted.Requests, granted.BudgetUsd));

        // Sent again after the rollback, usually once. Woken by the rollback, the other session still
        // has to come back for the budget row; if the next attempt takes it first, the two
        // deadlock once more and a third attempt goes through (the ledger pauses before each
        // attempt so that this is rare, not impossible).
        Assert.InRange(_ledger.RoundTrips - roundTrips, 2, 3);
    }

    [Fact]
    public async Task After_a_deadlock_the_ledger_waits_50_to_150_ms_before_it_sends_the_grant_again()
    {
        // The same deadlock, with the pause on a clock the test moves: the other session has
        // committed before the pause ends, so exactly one attempt follows it.
        var clock = new ObservableTimeProvider(Monday);
        var ledger = new QuotaLedger(_database, clock);
        var (granting, roundTrips) = await DeadlockAGrantAsync(ledger);
        try
        {
            // Rolled back and pausing: nothing but the clock can end the pause. Its timer must exist
            // before the clock moves: a pause that starts after a move is not shortened by it.
            await clock.WaitForTimerAsync(TimeSpan.FromSeconds(30));
            var pausedAttempts = ledger.RoundTrips - roundTrips;
            var pausedDone = granting.IsCompleted;
            clock.Advance(TimeSpan.FromMilliseconds(49));
            await Task.Delay(300, Ct);
            var doneBefore50Ms = granting.IsCompleted;
            clock.Advance(TimeSpan.FromMilliseconds(101));
            var granted = await granting.WaitAsync(TimeSpan.FromSeconds(30), Ct);

            Assert.Equal(1, pausedAttempts);
            Assert.False(pausedDone);
            Assert.False(doneBefore50Ms);
            Assert.Equal((10L, 1m), (granted.Requests, granted.BudgetUsd));
            Assert.Equal(2, ledger.RoundTrips - roundTrips);
        }
        finally
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(granting);
        }
    }

    /// <summary>
    /// Deadlocks a grant of a new key with a session that takes the key's window row before its budget
    /// row, the other way round from the ledger, as a sidecar of the release before migration 0011
    /// did; that session wins and commits. Returns the grant (rolled back, sent again by the ledger)
    /// and the ledger's round trips before it.
    /// </summary>
    private async Task<(Task<QuotaGrant> Granting, long RoundTripsBefore)> DeadlockAGrantAsync(QuotaLedger ledger)
    {
        var key = NewKeyId();
        var window = QuotaLedger.WindowOf(Monday);
        QuotaGrantRequest Ask(string replica) =>
            new(key, replica, Monday) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Daily, 5m, 1m), Requests = new QuotaWindowAsk(100, 10) };
        await ledger.GrantAsync(Ask("a"), Ttl, Ct);
        var roundTrips = ledger.RoundTrips;
        await using var older = await OpenTransaction.BeginAsync(database.ConnectionString, Ct);

        // This session waits long before it looks for a deadlock, so the grant is the one rolled back.
        await older.ExecuteAsync("SET LOCAL deadlock_timeout = '20s'", Ct);
        await older.ExecuteAsync(
            "SELECT 1 FROM vk.quota_windows WHERE key_id = $1 AND dimension = 'requests' AND window_start = $2 FOR UPDATE", Ct, key, window.UtcDateTime);
        var granting = ledger.GrantAsync(Ask("b"), Ttl, Ct);
        await WaitForLockWaitersAsync(1);
        await older.ExecuteAsync(LockBudgetRow, Ct, key);
        await older.CommitAsync(Ct);
        return (granting, roundTrips);
    }

    private async Task WaitForLockWaitersAsync(int count)
    {
        for (var attempt = 0; attempt < 400; attempt++)
        {
            var waiting = await PostgresScalar.ReadAsync<long>(
                database.ConnectionString,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                Ct);
            if (waiting >= count)
            {
                return;
            }

            await Task.Delay(25, Ct);
        }

        throw new Xunit.Sdk.XunitException($"Fewer than {count} sessions came to wait for a lock.");
    }

    private static string NewKeyId() => "k" + Guid.NewGuid().ToString("N")[..12];

    private Task<QuotaGrant> GrantRequestsAsync(string key, DateTimeOffset now, long want) =>
        _ledger.GrantAsync(new QuotaGrantRequest(key, "a", now) { Requests = new QuotaWindowAsk(600, want) }, Ttl, Ct);

    private Task<QuotaGrant> GrantBudgetAsync(string key, DateTimeOffset now, decimal want) =>
        _ledger.GrantAsync(new QuotaGrantRequest(key, "a", now) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Daily, 5m, want) }, Ttl, Ct);

    private Task<QuotaGrant> GrantSlotsAsync(string key, string replica, DateTimeOffset now, int want) =>
        _ledger.GrantAsync(new QuotaGrantRequest(key, replica, now) { Slots = new QuotaSlotAsk(4, want) }, Ttl, Ct);
}
