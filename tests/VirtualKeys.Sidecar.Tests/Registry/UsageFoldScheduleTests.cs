using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Registry;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Registry;

/// <summary>
/// The sidecar folds the registry's pending usage into its totals beside its usage batches: at its
/// first batch; while usage is heavy, every <see cref="UsageFoldSchedule.BusyInterval"/> at most; when
/// it is light, once per <see cref="UsageFoldSchedule.IdleInterval"/>. Reads are exact either way; these tests hold the
/// schedule that keeps the pending rows few without a statement every few seconds.
/// </summary>
public sealed class UsageFoldScheduleTests(SidecarRegistryFixture database) : IClassFixture<SidecarRegistryFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public void The_first_batch_folds_then_heavy_usage_after_the_busy_interval_and_light_usage_after_the_idle_one()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var schedule = new UsageFoldSchedule(time);

        var first = schedule.Written(1);
        schedule.Folded();
        var heavyAtOnce = schedule.Written(UsageFoldSchedule.BusyRecords);
        time.Advance(UsageFoldSchedule.BusyInterval);
        var heavyLater = schedule.Written(1);
        schedule.Folded();
        time.Advance(UsageFoldSchedule.BusyInterval);
        var lightAfterBusyInterval = schedule.Written(10);
        time.Advance(UsageFoldSchedule.IdleInterval - UsageFoldSchedule.BusyInterval - TimeSpan.FromSeconds(1));
        var lightJustBeforeIdleInterval = schedule.Written(10);
        time.Advance(TimeSpan.FromSeconds(1));
        var lightAfterIdleInterval = schedule.Written(10);

        Assert.True(first, "a sidecar's first batch folds, so short-lived pods fold too");
        Assert.False(heavyAtOnce, "a fold waits the busy interval, however much was written");
        Assert.True(heavyLater);
        Assert.False(lightAfterBusyInterval, "light usage does not fold every busy interval");
        Assert.False(lightJustBeforeIdleInterval);
        Assert.True(lightAfterIdleInterval);
    }

    [Fact]
    public async Task The_registry_sink_folds_beside_its_writes_when_the_schedule_says_so_and_the_usage_reads_the_same()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var registry = await VirtualKeyRegistry.OpenAsync(database.ConnectionString, database.KekPath, time, null, Cancel);
        var sink = new RegistryUsageSink(registry, time: time);
        var keyId = VirtualKeyId.FromUid(Guid.NewGuid().ToString());

        await sink.WriteAsync([Served(keyId, time.GetUtcNow(), 0.5m)], Cancel);
        await sink.RunningFold!.WaitAsync(Cancel);
        var pendingAfterFirstBatch = await PendingRowsAsync(keyId);
        var firstFold = sink.RunningFold;

        await sink.WriteAsync([Served(keyId, time.GetUtcNow(), 0.25m)], Cancel);
        var pendingBeforeIdleInterval = await PendingRowsAsync(keyId);
        var readWhilePending = await TotalAsync(registry, keyId, time);
        var noNewFold = ReferenceEquals(firstFold, sink.RunningFold);

        time.Advance(UsageFoldSchedule.IdleInterval);
        await sink.WriteAsync([Served(keyId, time.GetUtcNow(), 0.125m)], Cancel);
        await sink.RunningFold!.WaitAsync(Cancel);
        var pendingAfterIdleInterval = await PendingRowsAsync(keyId);
        var readAfterFold = await TotalAsync(registry, keyId, time);

        Assert.Equal(0, pendingAfterFirstBatch);
        Assert.Equal(1, pendingBeforeIdleInterval);
        Assert.True(noNewFold, "the second batch, within the idle interval, started no fold");
        Assert.Equal((2L, 0.75m), readWhilePending);
        Assert.Equal(0, pendingAfterIdleInterval);
        Assert.Equal((3L, 0.875m), readAfterFold);
    }

    [Fact]
    public async Task A_failed_fold_is_logged_leaves_the_batch_written_and_is_tried_again_after_its_interval()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logs = new CapturedLogs();
        using var loggerFactory = LoggerFactory.Create(logging => logging.AddProvider(logs));
        await using var registry = await VirtualKeyRegistry.OpenAsync(database.ConnectionString, database.KekPath, time, null, Cancel);
        var sink = new RegistryUsageSink(registry, time: time, logger: loggerFactory.CreateLogger<RegistryUsageSink>());
        var keyId = VirtualKeyId.FromUid(Guid.NewGuid().ToString());

        await database.ScalarAsync<int>(
            """
            ALTER FUNCTION vk.usage_fold() RENAME TO usage_fold_working;
            CREATE FUNCTION vk.usage_fold() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the fold is broken for this test'; END $$;
            SELECT 1
            """);
        Task? failedFold;
        bool foldStartedBeforeInterval;
        (long, decimal) readWhileBroken;
        long pendingWhileBroken;
        try
        {
            await sink.WriteAsync([Served(keyId, time.GetUtcNow(), 0.5m)], Cancel);
            failedFold = sink.RunningFold;
            await failedFold!.WaitAsync(Cancel);
            await sink.WriteAsync([Served(keyId, time.GetUtcNow(), 0.25m)], Cancel);
            foldStartedBeforeInterval = !ReferenceEquals(failedFold, sink.RunningFold);
            readWhileBroken = await TotalAsync(registry, keyId, time);
            pendingWhileBroken = await PendingRowsAsync(keyId);
        }
        finally
        {
            await database.ScalarAsync<int>("DROP FUNCTION vk.usage_fold(); ALTER FUNCTION vk.usage_fold_working() RENAME TO usage_fold; SELECT 1");
        }

        time.Advance(UsageFoldSchedule.IdleInterval);
        await sink.WriteAsync([Served(keyId, time.GetUtcNow(), 0.125m)], Cancel);
        await sink.RunningFold!.WaitAsync(Cancel);

        Assert.False(foldStartedBeforeInterval, "a failed fold waits its interval instead of running again after every batch");
        Assert.Equal((2L, 0.75m), readWhileBroken);
        Assert.Equal(2L, pendingWhileBroken);
        Assert.Contains(logs.Lines, line => line.StartsWith("Warning", StringComparison.Ordinal) && line.Contains("the fold is broken for this test", StringComparison.Ordinal));
        Assert.Equal(0L, await PendingRowsAsync(keyId));
        Assert.Equal((3L, 0.875m), await TotalAsync(registry, keyId, time));
    }

    [Fact]
    public async Task Spend_of_a_key_with_a_budget_is_added_up_per_key_at_once_and_other_usage_is_stamped_for_the_next_fold()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var registry = await VirtualKeyRegistry.OpenAsync(database.ConnectionString, database.KekPath, time, null, Cancel);
        var sink = new RegistryUsageSink(registry, time: time);
        var budgeted = VirtualKeyId.FromUid(Guid.NewGuid().ToString());
        var unbudgeted = VirtualKeyId.FromUid(Guid.NewGuid().ToString());
        var refusal = new UsageRecord
        {
            RecordId = Guid.NewGuid().ToString("N"),
            KeyId = budgeted,
            Namespace = "team-a",
            Name = "app",
            Outcome = UsageOutcome.Rejected,
            Detail = "rate_limit_rpm",
            Count = 3,
            KeyHasBudget = true,
            Timestamp = time.GetUtcNow(),
        };

        // The sink's first batch also folds: what is asserted holds before and after that fold.
        await sink.WriteAsync([Served(budgeted, time.GetUtcNow(), 2.5m), Served(unbudgeted, time.GetUtcNow(), 1.5m, hasBudget: false), refusal], Cancel);
        var recordedAtOnce = await database.ScalarAsync<decimal>("SELECT vk.recorded_spend($1, 'daily', $2)", budgeted, BudgetPeriod.StartOf(BudgetPeriodKind.Daily, time.GetUtcNow()).UtcDateTime);
        await sink.RunningFold!.WaitAsync(Cancel);
        var stamped = await database.ScalarAsync<string>(
            "SELECT string_agg(coalesce(rejection, 'served') || '@' || CASE WHEN key_id = $1 THEN 'budgeted' ELSE 'unbudgeted' END || '=' || (fold_xid IS NOT NULL), ',' ORDER BY key_id = $1, rejection NULLS FIRST) FROM vk.usage_events WHERE key_id IN ($1, $2)",
            budgeted,
            unbudgeted);

        Assert.Equal(2.5m, recordedAtOnce);
        Assert.Equal("served@unbudgeted=true,served@budgeted=false,rpm@budgeted=true", stamped);
        Assert.Equal((1L, 1.5m), await TotalAsync(registry, unbudgeted, time));
        Assert.Equal((1L, 2.5m), await TotalAsync(registry, budgeted, time));
    }

    private static async Task<(long Requests, decimal CostUsd)> TotalAsync(VirtualKeyRegistry registry, string keyId, TimeProvider time)
    {
        var usage = await registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, time.GetUtcNow(), Cancel);
        return (usage.Requests, usage.CostUsd);
    }

    private Task<long> PendingRowsAsync(string keyId) => database.ScalarAsync<long>("SELECT count(*) FROM vk.usage_pending WHERE key_id = $1", keyId);

    // Counted for a budget unless told otherwise: the pending rows are what the schedule test watches.
    private static UsageRecord Served(string keyId, DateTimeOffset at, decimal cost, bool hasBudget = true) => new()
    {
        RecordId = Guid.NewGuid().ToString("N"),
        KeyId = keyId,
        Namespace = "team-a",
        Name = "app",
        Outcome = UsageOutcome.Success,
        Model = "gpt-4o-mini",
        InputTokens = 3,
        OutputTokens = 4,
        CostUsd = cost,
        KeyHasBudget = hasBudget,
        Timestamp = at,
    };
}
