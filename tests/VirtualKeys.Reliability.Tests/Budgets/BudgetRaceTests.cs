using System.Globalization;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Reliability.Tests.Faults.Sidecar;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Budgets;

/// <summary>
/// 200 requests at once against a key whose budget pays for about 20, through a real sidecar process.
/// Other gateways check the budget only after the fact, so concurrent requests overspend it; the sidecar
/// reserves each request's estimated cost at admission, so the overspend is bounded by one reservation.
/// </summary>
public sealed class BudgetRaceTests(PostgresFixture server)
{
    private const string Model = "reliability-budget-model";
    private const int Requests = 200;
    private const int MaxTokens = 10;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <param name="quotaMode">Shared (the default with a registry: budget leased from PostgreSQL in blocks) or Local (counters in the process).</param>
    [Theory]
    [InlineData("Shared")]
    [InlineData("Local")]
    public async Task Concurrent_requests_overspend_the_budget_by_at_most_one_reservation(string quotaMode)
    {
        var rounds = ReliabilityRun.Pick(1, 3);
        var (body, words, estimatedInput) = Prompt();
        var costPerRequest = RoundPricing.Cost(words + MaxTokens);
        var reservation = RoundPricing.Cost(estimatedInput + MaxTokens);
        var cap = (costPerRequest * 20) + (costPerRequest / 2);

        var connectionString = await server.CreateDatabaseAsync("budget_race", Cancel);
        using var pricing = await RoundPricing.WriteAsync(Model, Cancel);
        await using var rig = await SidecarRig.StartAsync(connectionString, Cancel);
        var keys = new List<RigKey>();
        for (var round = 0; round < rounds; round++)
        {
            keys.Add(await rig.AddKeyAsync("budget-race-" + round, Model, null, new KeyBudget(cap, BudgetPeriodKind.Total), Cancel));
        }

        var sidecar = await rig.StartSidecarAsync(
            "budget-race-" + quotaMode,
            new Dictionary<string, string> { ["Sidecar__PricingFile"] = pricing.FilePath, ["Quota__Mode"] = quotaMode },
            Cancel);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = Requests };
        using var client = new HttpClient(handler) { BaseAddress = sidecar.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

        var results = new List<RoundResult>();
        foreach (var key in keys)
        {
            // The provider answers each request after a pause, so all of them are in flight together.
            rig.Upstream.DelayNext(Requests, TimeSpan.FromMilliseconds(500));
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var sends = Enumerable.Range(0, Requests).Select(_ => Task.Run(async () =>
            {
                await start.Task;
                return await ChatCall.SendAsync(client, key.Token, body, "budget race", Cancel);
            })).ToList();
            start.SetResult();
            var outcomes = await Task.WhenAll(sends);

            // Refusals are written as one event each, so the registry is settled once every request is there.
            var settled = await rig.WaitForEventsAsync(key.KeyId, e => e.Count >= Requests, TimeSpan.FromSeconds(60), Cancel);
            var total = await rig.TotalAsync(key.KeyId, Cancel);
            results.Add(new RoundResult(outcomes, total.CostUsd, settled is not null));
        }

        using (var metrics = await client.GetAsync("/metrics", Cancel))
        {
            SecretLedger.Observe("budget-race: /metrics", await metrics.Content.ReadAsStringAsync(Cancel));
        }

        await rig.ObserveRegistryTablesAsync("budget-race-" + quotaMode, Cancel);

        foreach (var result in results)
        {
            Assert.True(result.Settled, "The registry did not record every request of the round within 60 s.");
            Assert.All(result.Outcomes, o => Assert.True(o.Status is 200 or 402 or 429, $"unexpected answer {o.Status} {o.Code}"));
            Assert.InRange(result.Admitted, 1, Requests - 1);

            // Every admitted request was charged exactly its cost, and the overspend stays within one reservation.
            Assert.Equal(result.Admitted * costPerRequest, result.Spent);
            Assert.InRange(result.Spent - cap, decimal.MinValue, reservation);
        }

        var worst = results.MaxBy(r => r.Spent)!;
        var overspend = Math.Max(0m, worst.Spent - cap);
        var unspent = Math.Max(0m, cap - results.Min(r => r.Spent));
        var refusals = results.SelectMany(r => r.Outcomes).Where(o => !o.Answered)
            .GroupBy(o => $"{o.Status} {o.Code}").OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Count()} × {g.Key}"));
        await new ScenarioFigures(
            "budget-race-200-concurrent-" + quotaMode.ToLowerInvariant(),
            "Budgets",
            $"200 concurrent requests against a key whose budget pays for about 20 (Quota__Mode={quotaMode})",
            string.Create(
                CultureInfo.InvariantCulture,
                $"at most {worst.Admitted} of {Requests} admitted; spend after settlement at most {worst.Spent} USD against a cap of {cap} USD, an overspend of {overspend} USD ({Percent(overspend, cap)} %), within the bound of one reservation ({reservation} USD); the rest were refused, leaving at most {unspent} USD ({Percent(unspent, cap)} %) of the budget unspent"),
            Passed: true,
            [
                new("quota mode (Quota__Mode)", quotaMode),
                new("rounds", rounds),
                new("requests per round", Requests),
                new("admitted per round", string.Join(", ", results.Select(r => r.Admitted))),
                new("refused (status code)", string.Join("; ", refusals)),
                new("cap (USD)", cap),
                new("cost of one request (USD)", costPerRequest),
                new("reservation of one request (USD)", reservation),
                new("spent after settlement per round (USD)", string.Join(", ", results.Select(r => r.Spent.ToString(CultureInfo.InvariantCulture)))),
                new("overspend (USD)", overspend),
                new("overspend (% of cap)", Percent(overspend, cap)),
                new("bound: one in-flight reservation (USD)", reservation),
                new("budget left unspent, worst round (% of cap)", Percent(unspent, cap)),
            ]).WriteAsync(Cancel);
    }

    private static decimal Percent(decimal part, decimal whole) => Math.Round(part * 100m / whole, 2);

    /// <summary>
    /// A prompt of one-letter words sized so the sidecar's input estimate (a token per four bytes of
    /// body) is at least, and as close as it gets to, the tokens the provider will count (the words):
    /// each reservation then covers its request's cost with almost nothing to spare, so the budget is
    /// raced at its edge.
    /// </summary>
    private static (string Body, int Words, long EstimatedInput) Prompt()
    {
        var best = (Body: "", Words: 0, Estimate: 0L);
        for (var words = 1; words <= 400; words++)
        {
            var body = ChatCall.Body(Model, words, maxTokens: MaxTokens, word: "a");
            var estimate = RoundPricing.EstimatedInputTokens(body);
            if (estimate >= words)
            {
                best = (body, words, estimate);
            }
        }

        return best;
    }

    private sealed record RoundResult(IReadOnlyList<ChatOutcome> Outcomes, decimal Spent, bool Settled)
    {
        public int Admitted => Outcomes.Count(o => o.Answered);
    }
}
