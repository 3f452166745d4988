using Microsoft.Extensions.Time.Testing;
using Npgsql;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Registry;

namespace VirtualKeys.Sidecar.Tests.Registry;

/// <summary>
/// The sidecar folds the registry's pending usage into its totals after a usage batch: while usage is
/// heavy, every <see cref="UsageFoldSchedule.BusyInterval"/> at most; when it is light, once per
/// <see cref="UsageFoldSchedule.IdleInterval"/>. Reads are exact either way; these tests hold the
/// schedule that keeps the pending rows few without a statement every few seconds.
/// </summary>
public sealed class UsageFoldScheduleTests(SidecarRegistryFixture database) : IClassFixture<SidecarRegistryFixture>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public void Heavy_usage_folds_once_the_busy_interval_has_passed_and_light_usage_after_the_idle_one()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var schedule = new UsageFoldSchedule(time);

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

        Assert.False(heavyAtOnce, "a fold waits the busy interval, however much was written");
        Assert.True(heavyLater);
        Assert.False(lightAfterBusyInterval, "light usage does not fold every busy interval");
        Assert.False(lightJustBeforeIdleInterval);
        Assert.True(lightAfterIdleInterval);
    }

    [Fact]
    public async Task The_registry_sink_folds_when_the_schedule_says_so_and_the_usage_reads_the_same()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var registry = await VirtualKeyRegistry.OpenAsync(database.ConnectionString, database.KekPath, time, null, Cancel);
        var sink = new RegistryUsageSink(registry, time: time);
        var keyId = VirtualKeyId.FromUid(Guid.NewGuid().ToString());

        await sink.WriteAsync([Served(keyId, time.GetUtcNow(), 0.5m)], Cancel);
        var pendingAtFirst = await PendingRowsAsync(keyId);
        time.Advance(UsageFoldSchedule.IdleInterval);
        await sink.WriteAsync([Served(keyId, time.GetUtcNow(), 0.25m)], Cancel);
        var pendingAfterIdleInterval = await PendingRowsAsync(keyId);
        var usage = await registry.GetUsageAsync(keyId, BudgetPeriodKind.Total, time.GetUtcNow(), Cancel);

        Assert.Equal(1, pendingAtFirst);
        Assert.Equal(0, pendingAfterIdleInterval);
        Assert.Equal((2L, 0.75m), (usage.Requests, usage.CostUsd));
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
