using System.Globalization;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>
/// The token-per-minute limit and a budget while PostgreSQL is down (SIGKILL), on a sidecar with shared
/// quotas that had been granted nothing for these keys: the replica admits its share (here, as the
/// only live replica, the whole limit), so docs/operations.md's bound is the limit itself for TPM and
/// the cap plus one in-flight reservation for the budget. Requests go one at a time, so no more than
/// one reservation is ever in flight. On a private cluster, so the kill disturbs no other test.
/// </summary>
public sealed class LimitsDuringOutageTests : IAsyncLifetime
{
    private const string Model = "reliability-outage-model";
    private const int MaxTokens = 10;
    private const int Words = 20;
    private const int MaxRequests = 40;

    private PostgresCluster? _cluster;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _cluster = await PostgresCluster.StartNewAsync(cancellationToken: Cancel);

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task While_PostgreSQL_is_down_TPM_and_budget_stay_within_their_documented_bounds()
    {
        var cluster = _cluster!;
        var body = ChatCall.Body(Model, Words, maxTokens: MaxTokens, word: "a");
        var estimatedInput = RoundPricing.EstimatedInputTokens(body);
        var tokensPerRequest = Words + MaxTokens;
        var reservation = RoundPricing.Cost(estimatedInput + MaxTokens);
        var tokensPerMinute = tokensPerRequest * 8 + (tokensPerRequest / 2);
        var cap = (RoundPricing.Cost(tokensPerRequest) * 6) + (RoundPricing.Cost(tokensPerRequest) / 2);

        using var pricing = await RoundPricing.WriteAsync(Model, Cancel);
        await using var rig = await SidecarRig.StartAsync(cluster.GetConnectionString(), Cancel);
        var tpmKey = await rig.AddKeyAsync("tpm-during-outage", Model, new KeyLimits(TokensPerMinute: tokensPerMinute), null, Cancel);
        var budgetKey = await rig.AddKeyAsync("budget-during-outage", Model, null, new KeyBudget(cap, BudgetPeriodKind.Total), Cancel);
        var sidecar = await rig.StartSidecarAsync(
            "limits-during-outage",
            new Dictionary<string, string> { ["Sidecar__PricingFile"] = pricing.FilePath, ["Quota__Mode"] = "Shared" },
            Cancel);
        using var client = new HttpClient { BaseAddress = sidecar.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

        // Both runs must fall in one UTC minute (the TPM window).
        var left = TimeSpan.FromMinutes(1) - TimeSpan.FromTicks(DateTimeOffset.UtcNow.UtcTicks % TimeSpan.TicksPerMinute);
        if (left < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(left + TimeSpan.FromMilliseconds(200), Cancel);
        }

        await cluster.KillAsync(Cancel);
        var tpm = await OneAtATimeAsync(client, tpmKey.Token, body, "tpm during the outage");
        var budget = await OneAtATimeAsync(client, budgetKey.Token, body, "budget during the outage");
        await cluster.StartAsync(Cancel);

        var tpmAdmitted = tpm.Where(o => o.Answered).ToList();
        var budgetAdmitted = budget.Where(o => o.Answered).ToList();
        var tpmSettled = await rig.WaitForEventsAsync(tpmKey.KeyId, e => e.Count >= tpm.Count, TimeSpan.FromSeconds(90), Cancel);
        var budgetSettled = await rig.WaitForEventsAsync(budgetKey.KeyId, e => e.Count >= budget.Count, TimeSpan.FromSeconds(90), Cancel);
        var tpmTotal = await rig.TotalAsync(tpmKey.KeyId, Cancel);
        var spent = (await rig.TotalAsync(budgetKey.KeyId, Cancel)).CostUsd;
        using (var metrics = await client.GetAsync("/metrics", Cancel))
        {
            SecretLedger.Observe("limits-during-outage: /metrics", await metrics.Content.ReadAsStringAsync(Cancel));
        }

        sidecar.Terminate();
        await sidecar.WaitForExitAsync(TimeSpan.FromSeconds(45), Cancel);
        await rig.ObserveRegistryTablesAsync("limits-during-outage", Cancel);

        Assert.NotNull(tpmSettled);
        Assert.NotNull(budgetSettled);
        Assert.All(tpm, o => Assert.True(o.Answered || (o.Status == 429 && o.Code == "rate_limit_tpm"), $"TPM key: {o}"));
        Assert.All(budget, o => Assert.True(o.Answered || (o.Status == 402 && o.Code == "budget_exhausted"), $"budget key: {o}"));

        // TPM: the tokens used in the window never pass the limit, and the limit is used.
        var tokensUsed = tpmAdmitted.Sum(o => o.InputTokens + o.OutputTokens);
        Assert.Equal(tokensUsed, tpmTotal.InputTokens + tpmTotal.OutputTokens);
        Assert.InRange(tokensUsed, tokensPerMinute - (2 * (estimatedInput + MaxTokens)), tokensPerMinute);
        Assert.Contains(tpm, o => !o.Answered);

        // Budget: the spend recorded once PostgreSQL is back passes the cap by at most the one reservation in flight.
        Assert.Equal(budgetAdmitted.Count * RoundPricing.Cost(tokensPerRequest), spent);
        Assert.InRange(spent, cap - RoundPricing.Cost(tokensPerRequest), cap + reservation);
        Assert.Contains(budget, o => !o.Answered);

        await new ScenarioFigures(
            "sidecar-limits-during-outage",
            "Faults",
            "TPM and a budget while PostgreSQL is down (SIGKILL), requests one at a time",
            string.Create(
                CultureInfo.InvariantCulture,
                $"With PostgreSQL down, the TPM key used {tokensUsed} of its {tokensPerMinute} tokens per minute and was refused after that; the budget key spent {spent} USD of a {cap} USD cap (bound: cap plus one reservation, {reservation} USD), as recorded once PostgreSQL was back"),
            Passed: true,
            [
                new("TPM key: tokens used / limit", $"{tokensUsed} / {tokensPerMinute}"),
                new("TPM key: admitted / refused (rate_limit_tpm)", $"{tpmAdmitted.Count} / {tpm.Count - tpmAdmitted.Count}"),
                new("budget key: spent / cap (USD)", string.Create(CultureInfo.InvariantCulture, $"{spent} / {cap}")),
                new("budget key: overspend (USD)", Math.Max(0m, spent - cap)),
                new("budget key: bound, one reservation (USD)", reservation),
                new("budget key: admitted / refused (budget_exhausted)", $"{budgetAdmitted.Count} / {budget.Count - budgetAdmitted.Count}"),
                new("quota mode (Quota__Mode)", "Shared"),
            ]).WriteAsync(Cancel);
    }

    /// <summary>Sends one request at a time until one is refused (or <see cref="MaxRequests"/>).</summary>
    private static async Task<List<ChatOutcome>> OneAtATimeAsync(HttpClient client, string token, string body, string source)
    {
        var outcomes = new List<ChatOutcome>();
        while (outcomes.Count < MaxRequests)
        {
            var outcome = await ChatCall.SendAsync(client, token, body, source, Cancel);
            outcomes.Add(outcome);
            if (!outcome.Answered)
            {
                break;
            }
        }

        return outcomes;
    }
}
