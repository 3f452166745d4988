using VirtualKeys.Model;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Testing.Postgres;
using RegistryBudgetPeriod = VirtualKeys.Registry.Usage.BudgetPeriod;

namespace VirtualKeys.Operator.Tests.Usage;

public sealed class UsageSyncerTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RegistryUsage_ReachesTheStatus_WithAlertAndExhaustion()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "usage");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("spender", spec => spec.Budget = new BudgetSpec { MaxCostUsd = "10", Period = VirtualKeys.Model.BudgetPeriod.Monthly, AlertAtPercent = 50 });
        var ready = await env.WaitForReadyReasonAsync("spender", ConditionReasons.Reconciled);
        var keyId = ready.Status!.KeyId!;
        var now = DateTimeOffset.UtcNow;

        await op.App.Registry.RecordUsageAsync(
            [
                new UsageEvent("req-1", keyId, now, "gpt-4o-mini", "openai", 100, 50, 6m),
                new UsageEvent("req-2", keyId, now, "gpt-4o-mini", "openai", 0, 0, 0m, RejectionCauses.RequestsPerMinute),
            ],
            Ct);

        var synced = await Waits.UntilAsync(
            () => env.GetKeyAsync("spender"),
            k => k.Status?.Usage?.CostUsd == "6.00",
            k => "status.usage shows the spend; it shows " + k?.Status?.Usage?.CostUsd);
        var usage = synced.Status!.Usage!;
        Assert.Equal(1, usage.Requests);
        Assert.Equal(100, usage.InputTokens);
        Assert.Equal(50, usage.OutputTokens);
        Assert.Equal(1, usage.Rejections![RejectionCauses.RequestsPerMinute]);
        Assert.Equal(RegistryBudgetPeriod.StartOf(BudgetPeriodKind.Monthly, now), usage.PeriodStart);
        Assert.Equal("4.00", synced.Status.BudgetRemainingUsd);
        Assert.Equal(ConditionReasons.AlertThresholdReached, OperatorEnvironment.ConditionOf(synced, ConditionTypes.BudgetAlert)!.Reason);
        Assert.Equal(ConditionReasons.Reconciled, OperatorEnvironment.ReadyOf(synced)!.Reason);
        await Waits.UntilAsync(async () => (await env.EventsForAsync("spender")).Any(e => e.Reason == ConditionTypes.BudgetAlert && e.Type == "Warning"), "a BudgetAlert Warning event");
        Assert.Contains("vk_virtualkey_budget_used_ratio{namespace=\"default\",name=\"spender\"} 0.6", await MetricsAsync(op), StringComparison.Ordinal);

        await op.App.Registry.RecordUsageAsync([new UsageEvent("req-3", keyId, now, "gpt-4o-mini", "openai", 10, 10, 4.5m)], Ct);

        var exhausted = await env.WaitForReadyReasonAsync("spender", ConditionReasons.BudgetExhausted);
        Assert.Equal("False", OperatorEnvironment.ReadyOf(exhausted)!.Status);
        Assert.Equal("0.00", exhausted.Status!.BudgetRemainingUsd);
        await Waits.UntilAsync(async () => (await env.EventsForAsync("spender")).Any(e => e.Reason == ConditionReasons.BudgetExhausted), "a BudgetExhausted event");

        // Requests in flight at exhaustion still settle: the status shows the spend as it grows, but the
        // key was exhausted once, and says so in one event.
        await op.App.Registry.RecordUsageAsync([new UsageEvent("req-4", keyId, now, "gpt-4o-mini", "openai", 10, 10, 0.25m)], Ct);
        await op.App.Registry.RecordUsageAsync([new UsageEvent("req-5", keyId, now, "gpt-4o-mini", "openai", 10, 10, 0.25m)], Ct);
        await Waits.UntilAsync(
            () => env.GetKeyAsync("spender"),
            k => k.Status?.Usage?.CostUsd == "11.00" && OperatorEnvironment.ReadyOf(k)?.Message?.Contains("11.00", StringComparison.Ordinal) == true,
            k => "the Ready message shows the spend; it says " + OperatorEnvironment.ReadyOf(k!)?.Message);
        var reconciles = op.Calls!.Count("registry:usage");
        await Waits.UntilAsync(() => op.Calls.Count("registry:usage") >= reconciles + 3, "more sync rounds ran");
        Assert.Single(await env.EventsForAsync("spender"), e => e.Reason == ConditionReasons.BudgetExhausted);
    }

    [Fact]
    public async Task UnchangedUsage_IsNotWrittenAgain()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "usageidle");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("steady");
        var ready = await env.WaitForReadyReasonAsync("steady", ConditionReasons.Reconciled);
        await op.App.Registry.RecordUsageAsync([new UsageEvent("only", ready.Status!.KeyId!, DateTimeOffset.UtcNow, "m", "openai", 1, 1, 0.01m)], Ct);
        await Waits.UntilAsync(() => env.GetKeyAsync("steady"), k => k.Status?.Usage?.Requests == 1, _ => "usage synced");
        var writes = op.Writes.Count;
        var rounds = op.Calls!.Count("registry:usage");

        await Waits.UntilAsync(() => op.Calls.Count("registry:usage") >= rounds + 5, "several sync rounds ran");

        Assert.Equal(writes, op.Writes.Count);
    }

    private static async Task<string> MetricsAsync(RunningOperator op)
    {
        using var http = new HttpClient();
        var url = op.App.Urls.First().Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
        return await http.GetStringAsync(new Uri(new Uri(url), "/metrics"), Ct);
    }
}
