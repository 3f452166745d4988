using Microsoft.Extensions.Time.Testing;
using Npgsql;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Registry;

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

    private static async Task<(long Requests, decimal CostUsd)> TotalAsync(VirtualKeyRegistry registry, string keyId, TimeProvider time)
    {
        var usage = await registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, time.GetUtcNow(), Cancel);
        return (usage.Requests, usage.CostUsd);
    }

    private async Task<long> PendingRowsAsync(string keyId)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM vk.usage_pending WHERE key_id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = keyId });
        return (long)(await command.ExecuteScalarAsync(Cancel))!;
    }

    private static UsageRecord Served(string keyId, DateTimeOffset at, decimal cost) => new()
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
        Timestamp = at,
    };
}
