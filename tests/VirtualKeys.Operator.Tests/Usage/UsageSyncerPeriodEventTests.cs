using Microsoft.Extensions.Time.Testing;
using VirtualKeys.Model;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Usage;

/// <summary>
/// A budget exhausted again in the next period is news, even when no sync round saw the key in
/// between with its budget open (it was spent within the first minutes of the new period).
/// </summary>
public sealed class UsageSyncerPeriodEventTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_daily_budget_exhausted_on_two_days_running_gets_an_event_on_each()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 12, 0, 0, TimeSpan.Zero));
        await using var env = await OperatorEnvironment.StartAsync(postgres, "usageperiod");
        await using var registry = await VirtualKeyRegistry.OpenAsync(env.ConnectionString, env.KekPath, time, null, Ct);
        var (cache, syncer) = UsageSyncerGenerationTests.Syncer(env, registry, time);
        var key = await UsageSyncerGenerationTests.RegisterAsync(env, registry, "daily", "1", VirtualKeys.Model.BudgetPeriod.Daily);
        var keyId = key.Status!.KeyId!;

        await registry.RecordUsageAsync([new UsageEvent("day1", keyId, time.GetUtcNow(), "m", "openai", 1, 1, 2m)], Ct);
        cache.Set([key]);
        Assert.Equal(1, await syncer.SyncOnceAsync(Ct));
        var first = (await env.GetKeyAsync("daily"))!;
        Assert.Equal(ConditionReasons.BudgetExhausted, OperatorEnvironment.ReadyOf(first)!.Reason);

        // The next day's budget is spent before the next round.
        time.Advance(TimeSpan.FromHours(12) + TimeSpan.FromMinutes(1));
        await registry.RecordUsageAsync([new UsageEvent("day2", keyId, time.GetUtcNow(), "m", "openai", 1, 1, 3m)], Ct);
        cache.Set([first]);
        Assert.Equal(1, await syncer.SyncOnceAsync(Ct));

        var second = (await env.GetKeyAsync("daily"))!;
        Assert.Equal(new DateTimeOffset(2026, 5, 11, 0, 0, 0, TimeSpan.Zero), second.Status!.Usage!.PeriodStart);
        Assert.Equal(ConditionReasons.BudgetExhausted, OperatorEnvironment.ReadyOf(second)!.Reason);
        var exhausted = (await env.EventsForAsync("daily")).Where(e => e.Reason == ConditionReasons.BudgetExhausted).ToList();
        Assert.Equal(2, exhausted.Sum(e => e.Count ?? 1));
        Assert.Contains(exhausted, e => e.Message.StartsWith("Spent 3.00 ", StringComparison.Ordinal));
    }
}
