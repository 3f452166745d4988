using Npgsql;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

/// <summary>
/// Usage batches leave per-key rows in vk.usage_pending for events counted for a budget (migration
/// 0009) and stamp the others with their transaction (migration 0010); a fold moves both into
/// vk.usage_totals: every figure read, and the spend the shared budget pool starts from, must be the
/// same before and after a fold (and while one runs beside batches and open transactions), and a batch
/// sent again after its fold must still count once.
/// </summary>
public sealed class UsageFoldTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>, IAsyncLifetime
{
    /// <summary>vk.usage_fold's advisory lock (migration 0009).</summary>
    private const long FoldLock = 7349001;

    /// <summary>Gives key $1 a 10 USD daily budget the way an upsert's UPDATE does (the trigger of migration 0011 fires).</summary>
    private const string GiveDailyBudgetOf10 = """UPDATE vk.virtual_keys SET config = config || '{"budget": {"maxCostUsd": 10, "period": "Daily"}}' WHERE key_id = $1""";

    /// <summary>Makes an open transaction take its id now, before the ones that follow.</summary>
    private const string TakeTransactionId = "SELECT pg_current_xact_id()";

    private static readonly DateTimeOffset SundayEvening = new(2025, 6, 8, 23, 30, 0, TimeSpan.Zero);
    private TestRegistry _registry = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private VirtualKeyRegistry Registry => _registry.Registry;

    public async ValueTask InitializeAsync() => _registry = await fixture.OpenAsync();

    public ValueTask DisposeAsync() => _registry.DisposeAsync();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_period_reads_the_same_before_and_after_a_fold(bool forBudget)
    {
        var keyId = NewKeyId();
        var monday = SundayEvening.AddHours(1);
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 100, 50, 1.5m, forBudget), Rejected(keyId, SundayEvening, "rpm", 3, forBudget)], Ct);
        await Registry.RecordUsageAsync([Served(keyId, monday, 10, 5, 0.25m, forBudget), Served(keyId, monday.AddHours(2), 1, 1, 0.01m, forBudget)], Ct);
        await Registry.RecordUsageAsync([Rejected(keyId, monday, "budget", 2, forBudget), Rejected(keyId, monday, "rpm", 1, forBudget)], Ct);

        var pendingBefore = await PendingRowsAsync(keyId);
        var unfoldedBefore = await UnfoldedEventsAsync(keyId);
        var before = await ReadAllPeriodsAsync(keyId, monday);
        var written = await FoldAllOfAsync(keyId);
        var after = await ReadAllPeriodsAsync(keyId, monday);

        // Counted for a budget: per-key pending rows; otherwise stamped events and no pending row.
        Assert.Equal(forBudget ? (true, 0L) : (false, 6L), (pendingBefore > 0, unfoldedBefore));
        Assert.Equal((0L, 0L), (await PendingRowsAsync(keyId), await UnfoldedEventsAsync(keyId)));
        Assert.True(written >= 3, $"the key's Sunday, Monday and June rows were written: {written} rows in all");
        Assert.Equal(before, after);
        var total = after[BudgetPeriodKind.Total];
        Assert.Equal((3L, 111L, 56L, 1.76m), (total.Requests, total.InputTokens, total.OutputTokens, total.CostUsd));
        Assert.Equal("budget=2,rpm=4", total.Rejections);
        Assert.Equal(monday.AddHours(2), total.LastRequestAt);
        Assert.Equal((2L, 0.26m), (after[BudgetPeriodKind.Daily].Requests, after[BudgetPeriodKind.Daily].CostUsd));
        Assert.Equal((2L, 0.26m), (after[BudgetPeriodKind.Weekly].Requests, after[BudgetPeriodKind.Weekly].CostUsd));
    }

    [Fact]
    public async Task Folding_adds_a_keys_batches_into_one_totals_row_per_day_and_month()
    {
        var keyId = NewKeyId();
        for (var i = 0; i < 3; i++)
        {
            await Registry.RecordUsageAsync([Served(keyId, SundayEvening.AddMinutes(i), 10, 10, 0.1m)], Ct);
        }

        var pending = await PendingRowsAsync(keyId);
        await Registry.FoldUsageAsync(Ct);
        var rows = await TotalsRowsAsync(keyId);

        Assert.Equal(3, pending);
        Assert.Equal(new[] { ("daily", 3L, 0.3m), ("monthly", 3L, 0.3m) }, rows);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Folds_add_to_what_earlier_folds_wrote(bool forBudget)
    {
        var keyId = NewKeyId();
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 2, 0.5m, forBudget)], Ct);
        await FoldAllOfAsync(keyId);
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening.AddMinutes(1), 3, 4, 0.25m, !forBudget), Rejected(keyId, SundayEvening, "tpm", 5, forBudget)], Ct);
        await FoldAllOfAsync(keyId);

        var rows = await TotalsRowsAsync(keyId);
        var day = await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);

        Assert.Equal(new[] { ("daily", 2L, 0.75m), ("monthly", 2L, 0.75m) }, rows);
        Assert.Equal((4L, 6L, 5L), (day.InputTokens, day.OutputTokens, day.Rejections["tpm"]));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_batch_sent_again_after_its_fold_still_counts_once(bool forBudget)
    {
        var keyId = NewKeyId();
        UsageEvent[] batch = [Served(keyId, SundayEvening, 100, 50, 0.0125m, forBudget), Rejected(keyId, SundayEvening, "rpm", 7, forBudget)];

        var first = await Registry.RecordUsageAsync(batch, Ct);
        await Registry.FoldUsageAsync(Ct);
        var replay = await Registry.RecordUsageAsync(batch, Ct);
        await Registry.FoldUsageAsync(Ct);
        var total = await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, SundayEvening, Ct);

        Assert.Equal((2, 0), (first.Recorded, first.Duplicates));
        Assert.Equal((0, 2), (replay.Recorded, replay.Duplicates));
        Assert.Equal((1L, 0.0125m, 7L), (total.Requests, total.CostUsd, total.Rejections["rpm"]));
    }

    [Fact]
    public async Task Pending_spend_counts_where_the_shared_budget_pool_starts_from()
    {
        var keyId = NewKeyId();
        var day = BudgetPeriod.StartOf(BudgetPeriodKind.Daily, SundayEvening);
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 4m)], Ct);

        var recorded = await RecordedSpendAsync(keyId, day);

        // A 10 USD daily cap with 4 USD recorded and not yet folded: at most 6 may be granted.
        var given = await fixture.ScalarAsync<decimal>("SELECT given FROM vk.quota_grant_budget($1, 'daily', $2, 10, 100, 0)", keyId, day.UtcDateTime);

        Assert.Equal(4m, recorded);
        Assert.Equal(6m, given);
    }

    [Fact]
    public async Task A_fold_that_finds_another_running_returns_at_once_and_leaves_the_rows_pending()
    {
        var keyId = NewKeyId();
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 0.1m)], Ct);

        await using (var other = new NpgsqlConnection(fixture.ConnectionString))
        {
            await other.OpenAsync(Ct);
            await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({FoldLock})", other))
            {
                await take.ExecuteNonQueryAsync(Ct);
            }

            var whileHeld = await Registry.FoldUsageAsync(Ct);

            Assert.Equal(0, whileHeld);
            Assert.Equal(1, await PendingRowsAsync(keyId));

            // A pooled connection keeps session locks until it is reset on its next use.
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({FoldLock})", other);
            await release.ExecuteNonQueryAsync(Ct);
        }

        await Registry.FoldUsageAsync(Ct);
        Assert.Equal(0, await PendingRowsAsync(keyId));
        Assert.Equal(1, (await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, SundayEvening, Ct)).Requests);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Folds_beside_concurrent_batches_and_readers_never_show_usage_twice_or_lose_it(bool forBudget)
    {
        const int Writers = 4;
        const int BatchesEach = 25;
        var keyId = NewKeyId();
        using var writing = new CancellationTokenSource();
        var seen = new List<decimal>();

        var writers = Enumerable.Range(0, Writers).Select(_ => Task.Run(
            async () =>
            {
                for (var i = 0; i < BatchesEach; i++)
                {
                    await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 0.01m, forBudget), Rejected(keyId, SundayEvening, "rpm", 1, forBudget)], Ct);
                }
            },
            Ct)).ToArray();
        var folder = Task.Run(
            async () =>
            {
                while (!writing.IsCancellationRequested)
                {
                    await Registry.FoldUsageAsync(Ct);
                }
            },
            Ct);
        var reader = Task.Run(
            async () =>
            {
                while (!writing.IsCancellationRequested)
                {
                    seen.Add((await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, SundayEvening, Ct)).CostUsd);
                }
            },
            Ct);

        await Task.WhenAll(writers);
        await writing.CancelAsync();
        await Task.WhenAll(folder, reader);
        var beforeLastFold = await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, SundayEvening, Ct);
        await FoldAllOfAsync(keyId);
        var afterLastFold = await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, SundayEvening, Ct);

        var expected = Writers * BatchesEach * 0.01m;
        Assert.True(seen.Count > 0);
        Assert.All(seen, cost => Assert.InRange(cost, 0m, expected));
        Assert.Equal(seen.OrderBy(c => c), seen);
        Assert.Equal(((long)Writers * BatchesEach, expected, (long)Writers * BatchesEach), (beforeLastFold.Requests, beforeLastFold.CostUsd, beforeLastFold.Rejections["rpm"]));
        Assert.Equal((beforeLastFold.Requests, beforeLastFold.CostUsd, beforeLastFold.Rejections["rpm"]), (afterLastFold.Requests, afterLastFold.CostUsd, afterLastFold.Rejections["rpm"]));
        Assert.Equal((0L, 0L), (await PendingRowsAsync(keyId), await UnfoldedEventsAsync(keyId)));
    }

    [Fact]
    public async Task A_fold_leaves_the_events_of_a_transaction_still_open_to_the_next_fold()
    {
        var keyId = NewKeyId();
        await using var transaction = await OpenTransaction.BeginAsync(fixture.ConnectionString, Ct);
        await InsertStampedEventAsync(transaction, keyId, 2.5m);

        // Written after the open transaction took its id, committed before the fold.
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 0.5m, forBudget: false)], Ct);
        await Registry.FoldUsageAsync(Ct);
        var whileOpen = await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);
        await transaction.CommitAsync(Ct);
        var committed = await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);
        await FoldAllOfAsync(keyId);
        var folded = await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);

        Assert.Equal((1L, 0.5m), (whileOpen.Requests, whileOpen.CostUsd));
        Assert.Equal((2L, 3.0m), (committed.Requests, committed.CostUsd));
        Assert.Equal((2L, 3.0m), (folded.Requests, folded.CostUsd));
        Assert.Equal(0L, await UnfoldedEventsAsync(keyId));
        Assert.Equal(new[] { ("daily", 2L, 3.0m), ("monthly", 2L, 3.0m) }, await TotalsRowsAsync(keyId));
    }

    [Fact]
    public async Task Events_stamped_below_where_the_folds_stopped_take_the_pending_rows_instead()
    {
        // As after a restore into another PostgreSQL cluster, whose transaction ids are lower.
        var keyId = NewKeyId();
        await Registry.FoldUsageAsync(Ct);
        var stoppedAt = await fixture.ScalarAsync<long>("SELECT events_folded_below FROM vk.usage_fold_state");
        await fixture.ScalarAsync<int>("UPDATE vk.usage_fold_state SET events_folded_below = events_folded_below + 1000000000000 RETURNING 1");
        try
        {
            await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 10, 10, 1.25m, forBudget: false)], Ct);
            var pending = await PendingRowsAsync(keyId);
            var read = await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);
            await Registry.FoldUsageAsync(Ct);
            var folded = await Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, SundayEvening, Ct);
            var stillStoppedAt = await fixture.ScalarAsync<long>("SELECT events_folded_below FROM vk.usage_fold_state");

            Assert.Equal(1L, pending);
            Assert.Equal((1L, 1.25m), (read.Requests, read.CostUsd));
            Assert.Equal((1L, 1.25m), (folded.Requests, folded.CostUsd));
            Assert.Equal(stoppedAt + 1000000000000, stillStoppedAt);
        }
        finally
        {
            // No event was stamped meanwhile, so going back folds nothing twice.
            await fixture.ScalarAsync<int>("UPDATE vk.usage_fold_state SET events_folded_below = $1 RETURNING 1", stoppedAt);
        }
    }

    [Fact]
    public async Task A_key_given_a_budget_while_it_spends_starts_its_pool_from_the_spend_no_fold_took_yet()
    {
        var withoutBudget = NewKeyWithoutBudget();
        var keyId = (await Registry.UpsertAsync(withoutBudget, Ct)).KeyId;
        var day = BudgetPeriod.StartOf(BudgetPeriodKind.Daily, SundayEvening);
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 4m, forBudget: false)], Ct);
        await Registry.UpsertAsync(
            withoutBudget with { Generation = 2, Config = withoutBudget.Config with { Budget = new KeyBudget(10m, BudgetPeriodKind.Daily) } },
            Ct);

        // A 10 USD daily cap with 4 USD spent before the budget, still in stamped events.
        var unfolded = await UnfoldedEventsAsync(keyId);
        var first = await GrantBudgetAsync(keyId, day, want: 100m);
        await FoldAllOfAsync(keyId);
        var afterFold = await GrantBudgetAsync(keyId, day, want: 100m);

        Assert.Equal(1L, unfolded);
        Assert.Equal((6m, 0m), first);
        Assert.Equal((0m, 0m), afterFold);
        Assert.Equal(4m, await RecordedSpendAsync(keyId, day));
    }

    [Fact]
    public async Task A_budget_taken_away_and_given_back_within_its_period_counts_the_spend_in_between()
    {
        var upsert = TestRegistry.NewKey();
        var daily = upsert.Config with { Budget = new KeyBudget(10m, BudgetPeriodKind.Daily) };
        var keyId = (await Registry.UpsertAsync(upsert with { Config = daily }, Ct)).KeyId;
        var day = BudgetPeriod.StartOf(BudgetPeriodKind.Daily, SundayEvening);
        var before = await GrantBudgetAsync(keyId, day, want: 1m);
        await Registry.UpsertAsync(upsert with { Generation = 2, Config = daily with { Budget = null } }, Ct);
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 5m, forBudget: false)], Ct);
        await Registry.UpsertAsync(upsert with { Generation = 3, Config = daily }, Ct);

        var after = await GrantBudgetAsync(keyId, day, want: 100m);

        // 1 USD granted before, 5 spent without a budget (not folded yet): 5 of the 10 are left.
        Assert.Equal((1m, 9m), before);
        Assert.Equal((5m, 0m), after);
    }

    [Fact]
    public async Task A_key_remembers_the_transaction_that_gave_it_its_budget_until_it_loses_it()
    {
        var upsert = TestRegistry.NewKey();
        var keyId = (await Registry.UpsertAsync(upsert, Ct)).KeyId;
        var bornWithBudget = await BudgetSinceAsync(keyId);
        var withoutBudget = upsert with { Generation = 2, Config = upsert.Config with { Budget = null } };
        await Registry.UpsertAsync(withoutBudget, Ct);
        var lost = await BudgetSinceAsync(keyId);
        await Registry.UpsertAsync(withoutBudget with { Generation = 3, Config = upsert.Config }, Ct);
        var gained = await BudgetSinceAsync(keyId);
        var newCap = upsert.Config.Budget! with { MaxCostUsd = 99m, Period = BudgetPeriodKind.Daily };
        await Registry.UpsertAsync(withoutBudget with { Generation = 4, Config = upsert.Config with { Budget = newCap } }, Ct);
        var changed = await BudgetSinceAsync(keyId);

        // A key written first with its budget never spent without one: its first grants read no events.
        Assert.Null(bornWithBudget);
        Assert.Null(lost);
        Assert.NotNull(gained);
        Assert.Equal(gained, changed);
    }

    [Fact]
    public async Task Spend_committed_before_a_budget_but_stamped_after_it_still_counts_at_the_first_grant()
    {
        // Transaction ids are handed out in one order and committed in another: a usage batch can
        // take its id after the transaction that gives the key its budget and commit before it.
        var withoutBudget = NewKeyWithoutBudget();
        var keyId = (await Registry.UpsertAsync(withoutBudget, Ct)).KeyId;
        var day = BudgetPeriod.StartOf(BudgetPeriodKind.Daily, SundayEvening);
        await using var budget = await OpenTransaction.BeginAsync(fixture.ConnectionString, Ct);
        await budget.ExecuteAsync(GiveDailyBudgetOf10, Ct, keyId);

        // Another transaction takes an id in between and stays open, so a fold can pass the budget's
        // id and not the batch's.
        await using var open = await OpenTransaction.BeginAsync(fixture.ConnectionString, Ct);
        await open.ExecuteAsync(TakeTransactionId, Ct);

        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 4m, forBudget: false)], Ct);
        await budget.CommitAsync(Ct);
        var since = (await BudgetSinceAsync(keyId))!.Value;
        await FoldPastAsync(since);

        var first = await GrantBudgetAsync(keyId, day, want: 100m);
        await open.CommitAsync(Ct);

        Assert.Equal((6m, 0m), first);
    }

    [Fact]
    public async Task Spend_of_a_batch_still_open_at_the_first_grant_counts_once_it_commits()
    {
        var withoutBudget = NewKeyWithoutBudget();
        var keyId = (await Registry.UpsertAsync(withoutBudget, Ct)).KeyId;
        var day = BudgetPeriod.StartOf(BudgetPeriodKind.Daily, SundayEvening);
        await using var budget = await OpenTransaction.BeginAsync(fixture.ConnectionString, Ct);
        await budget.ExecuteAsync(GiveDailyBudgetOf10, Ct, keyId);

        // Ids in this order: the budget, an unrelated transaction, a usage batch of 4 USD; the batch
        // is still open when the budget commits and the key's first grant runs.
        await using var open = await OpenTransaction.BeginAsync(fixture.ConnectionString, Ct);
        await open.ExecuteAsync(TakeTransactionId, Ct);
        await using var batch = await OpenTransaction.BeginAsync(fixture.ConnectionString, Ct);
        await InsertStampedEventAsync(batch, keyId, 4m);

        await budget.CommitAsync(Ct);
        var first = await GrantBudgetAsync(keyId, day, want: 1m);
        await open.CommitAsync(Ct);
        await Registry.FoldUsageAsync(Ct);
        await batch.CommitAsync(Ct);
        var next = await GrantBudgetAsync(keyId, day, want: 100m);

        // 1 USD granted, then 4 spent appear: the pool counts 4 consumed and gives the other 6.
        Assert.Equal((1m, 9m), first);
        Assert.Equal((6m, 0m), next);
    }

    [Fact]
    public async Task A_sidecar_role_that_reads_keys_and_writes_usage_and_quotas_can_grant_a_budget_its_key_just_gained()
    {
        var withoutBudget = NewKeyWithoutBudget();
        var keyId = (await Registry.UpsertAsync(withoutBudget, Ct)).KeyId;
        var day = BudgetPeriod.StartOf(BudgetPeriodKind.Daily, SundayEvening);
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 4m, forBudget: false)], Ct);
        await Registry.UpsertAsync(
            withoutBudget with { Generation = 2, Config = withoutBudget.Config with { Budget = new KeyBudget(10m, BudgetPeriodKind.Daily) } },
            Ct);
        var role = "sidecar_" + Guid.NewGuid().ToString("N")[..12];
        var reader = "reader_" + Guid.NewGuid().ToString("N")[..12];
        try
        {
            await PostgresScalar.ExecuteAsync(
                fixture.ConnectionString,
                $"""
                CREATE ROLE {role} LOGIN;
                GRANT USAGE ON SCHEMA vk TO {role};
                GRANT SELECT ON ALL TABLES IN SCHEMA vk TO {role};
                GRANT INSERT ON vk.usage_events, vk.usage_pending TO {role};
                GRANT INSERT, UPDATE, DELETE ON vk.quota_windows, vk.quota_budgets, vk.quota_replicas, vk.quota_slots TO {role};
                CREATE ROLE {reader} LOGIN;
                GRANT USAGE ON SCHEMA vk TO {reader};
                GRANT SELECT ON ALL TABLES IN SCHEMA vk TO {reader};
                """,
                Ct);
            var asSidecar = new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { Username = role, Pooling = false }.ConnectionString;
            var asReader = new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { Username = reader, Pooling = false }.ConnectionString;
            var given = await PostgresScalar.ReadAsync<decimal>(
                asSidecar, "SELECT given FROM vk.quota_grant_budget($1, 'daily', $2, 10, 100, 0)", Ct, keyId, day.UtcDateTime);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => PostgresScalar.ReadAsync<bool>(
                asReader, "SELECT vk.budget_reads_all_usage($1)", Ct, keyId));

            // A role that only reads the registry learns nothing of which keys just gained a budget.
            Assert.Equal(6m, given);
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        }
        finally
        {
            await PostgresScalar.ExecuteAsync(
                fixture.ConnectionString,
                $"DROP OWNED BY {role}; DROP ROLE IF EXISTS {role}; DROP OWNED BY {reader}; DROP ROLE IF EXISTS {reader};",
                Ct);
        }
    }

    [Fact]
    public async Task Once_the_folds_pass_its_first_grant_a_keys_grants_read_its_spend_by_key_again()
    {
        var withoutBudget = NewKeyWithoutBudget();
        var keyId = (await Registry.UpsertAsync(withoutBudget, Ct)).KeyId;
        var day = BudgetPeriod.StartOf(BudgetPeriodKind.Daily, SundayEvening);
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 2m, forBudget: false)], Ct);
        await Registry.UpsertAsync(
            withoutBudget with { Generation = 2, Config = withoutBudget.Config with { Budget = new KeyBudget(10m, BudgetPeriodKind.Daily) } },
            Ct);
        var first = await GrantBudgetAsync(keyId, day, want: 1m);
        var readsAllUntil = await fixture.ScalarAsync<long>("SELECT until_folded_past FROM vk.budget_full_reads WHERE key_id = $1", keyId);
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 3m, forBudget: false)], Ct);
        var whileReadingAll = await PoolSpendAsync(keyId, day);
        await FoldAllOfAsync(keyId);
        var passed = await fixture.ScalarAsync<long>("SELECT events_folded_below FROM vk.usage_fold_state") > readsAllUntil;

        // Written by a replica that learnt of the budget that late, after the folds passed.
        await Registry.RecordUsageAsync([Served(keyId, SundayEvening, 1, 1, 0.5m, forBudget: false)], Ct);
        var byKey = await PoolSpendAsync(keyId, day);
        await FoldAllOfAsync(keyId);
        var folded = await PoolSpendAsync(keyId, day);

        Assert.Equal((1m, 7m), first);
        Assert.Equal(5m, whileReadingAll);
        Assert.True(passed, "the 3 USD batch began after the first grant, so folding it passes the id that grant noted");
        Assert.Equal((5m, 5.5m), (byKey, folded));
    }

    private async Task<Dictionary<BudgetPeriodKind, (long Requests, long InputTokens, long OutputTokens, decimal CostUsd, string Rejections, DateTimeOffset? LastRequestAt)>>
        ReadAllPeriodsAsync(string keyId, DateTimeOffset at)
    {
        var read = new Dictionary<BudgetPeriodKind, (long, long, long, decimal, string, DateTimeOffset?)>();
        foreach (var period in Enum.GetValues<BudgetPeriodKind>())
        {
            var totals = await Registry.GetUsageAsync(keyId, period, at, Ct);
            var rejections = string.Join(",", totals.Rejections.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}={r.Value}"));
            read[period] = (totals.Requests, totals.InputTokens, totals.OutputTokens, totals.CostUsd, rejections, totals.LastRequestAt);
        }

        return read;
    }

    private async Task<long> PendingRowsAsync(string keyId) =>
        await fixture.ScalarAsync<long>("SELECT count(*) FROM vk.usage_pending WHERE key_id = $1", keyId);

    /// <summary>
    /// Folds until none of the key's usage is left outside the totals; returns the totals rows written.
    /// A fold leaves the events of transactions younger than the oldest one open anywhere on the server
    /// (vk.usage_fold), and other test classes write to the same server at the same time.
    /// </summary>
    private async Task<int> FoldAllOfAsync(string keyId) =>
        await FoldUntilAsync(async () => await PendingRowsAsync(keyId) == 0 && await UnfoldedEventsAsync(keyId) == 0, $"key {keyId}'s usage is all in the totals");

    /// <summary>
    /// Folds until <paramref name="done"/>, for up to 30 s; returns the totals rows written. On time
    /// out it names the sessions whose open transactions held the folds back.
    /// </summary>
    private async Task<int> FoldUntilAsync(Func<Task<bool>> done, string what)
    {
        var written = 0;
        var until = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < until)
        {
            written += await Registry.FoldUsageAsync(Ct);
            if (await done())
            {
                return written;
            }

            await Task.Delay(25, Ct);
        }

        var holders = await fixture.ScalarAsync<string>(
            """
            SELECT coalesce(string_agg(format('pid %s in %s (%s): %s', pid, datname, state, left(query, 80)), '; '), 'none')
            FROM pg_stat_activity WHERE backend_xid IS NOT NULL OR backend_xmin IS NOT NULL
            """);
        throw new Xunit.Sdk.XunitException($"Folding for 30 s did not get there ({what}); sessions holding transaction ids: {holders}");
    }

    private async Task<long> UnfoldedEventsAsync(string keyId) =>
        await fixture.ScalarAsync<long>(
            "SELECT count(*) FROM vk.usage_events WHERE key_id = $1 AND fold_xid >= (SELECT events_folded_below FROM vk.usage_fold_state)", keyId);

    private async Task<(decimal Given, decimal Remaining)> GrantBudgetAsync(string keyId, DateTimeOffset start, decimal want)
    {
        var given = await fixture.ScalarAsync<decimal>("SELECT given FROM vk.quota_grant_budget($1, 'daily', $2, 10, $3, 0)", keyId, start.UtcDateTime, want);
        var granted = await fixture.ScalarAsync<decimal>("SELECT granted FROM vk.quota_budgets WHERE key_id = $1 AND period = 'daily' AND period_start = $2", keyId, start.UtcDateTime);
        return (given, 10m - granted);
    }

    /// <summary>What the pool counts as consumed after a grant that asks for nothing: the larger of what it granted and the spend it read.</summary>
    private async Task<decimal> PoolSpendAsync(string keyId, DateTimeOffset start)
    {
        await GrantBudgetAsync(keyId, start, want: 0m);
        return await fixture.ScalarAsync<decimal>("SELECT granted FROM vk.quota_budgets WHERE key_id = $1 AND period = 'daily' AND period_start = $2", keyId, start.UtcDateTime);
    }

    /// <summary>Folds until the folds have passed <paramref name="xid"/>: every transaction with a lower id ended and was folded.</summary>
    private Task<int> FoldPastAsync(long xid) =>
        FoldUntilAsync(async () => await fixture.ScalarAsync<long>("SELECT events_folded_below FROM vk.usage_fold_state") > xid, $"the folds passed transaction {xid}");

    private async Task<long?> BudgetSinceAsync(string keyId) =>
        await fixture.ScalarAsync<object>("SELECT budget_since FROM vk.virtual_keys WHERE key_id = $1", keyId) is long since ? since : null;

    private async Task<decimal> RecordedSpendAsync(string keyId, DateTimeOffset start) =>
        await fixture.ScalarAsync<decimal>("SELECT vk.recorded_spend($1, 'daily', $2)", keyId, start.UtcDateTime);

    private async Task<List<(string Period, long Requests, decimal CostUsd)>> TotalsRowsAsync(string keyId)
    {
        await using var connection = new NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(
            "SELECT period, requests, cost_usd FROM vk.usage_totals WHERE key_id = $1 ORDER BY period, period_start", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = keyId });
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<(string, long, decimal)>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetDecimal(2)));
        }

        return rows;
    }

    /// <summary>One served event of the key, stamped as a batch of a key without a budget is (migration 0010), in an open transaction.</summary>
    private static Task InsertStampedEventAsync(OpenTransaction transaction, string keyId, decimal cost) =>
        transaction.ExecuteAsync(
            """
            INSERT INTO vk.usage_events (request_id, key_id, occurred_at, input_tokens, output_tokens, cost_usd, recorded_at, fold_xid)
            VALUES ($1, $2, $3, 1, 1, $4, now(), vk.usage_fold_stamp())
            """,
            Ct,
            Guid.NewGuid().ToString(),
            keyId,
            SundayEvening.UtcDateTime,
            cost);

    private static VirtualKeyUpsert NewKeyWithoutBudget()
    {
        var upsert = TestRegistry.NewKey();
        return upsert with { Config = upsert.Config with { Budget = null } };
    }

    private static string NewKeyId() => VirtualKeyId.FromUid(Guid.NewGuid().ToString());

    private static UsageEvent Served(string keyId, DateTimeOffset at, long input, long output, decimal cost, bool forBudget = true) =>
        new(Guid.NewGuid().ToString(), keyId, at, "gpt-4o-mini", "openai", input, output, cost, CountsForBudget: forBudget);

    private static UsageEvent Rejected(string keyId, DateTimeOffset at, string cause, int count, bool forBudget = true) =>
        new(Guid.NewGuid().ToString(), keyId, at, "gpt-4o-mini", null, 0, 0, 0m, cause, count, forBudget);
}
