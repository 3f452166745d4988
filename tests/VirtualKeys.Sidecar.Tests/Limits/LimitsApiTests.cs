using System.Net;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Pricing;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Limits;

/// <summary>Limits as a router sees them through the resolve API, on the sidecar's fake clock.</summary>
public sealed class LimitsApiTests
{
    [Fact]
    public async Task Requests_per_minute_admit_exactly_the_limit_then_429_until_the_next_minute()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(RequestsPerMinute: 3)));

        for (var i = 0; i < 3; i++)
        {
            using var admitted = await sidecar.ResolveAsync(token, "gpt-4o");
            Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        }

        using (var refused = await sidecar.ResolveAsync(token, "gpt-4o"))
        {
            var error = await ErrorAssert.IsErrorAsync(refused, HttpStatusCode.TooManyRequests, "rate_limit_rpm");
            Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
            Assert.Equal(TimeSpan.FromSeconds(45), refused.Headers.RetryAfter?.Delta);
        }

        sidecar.Time.Advance(TimeSpan.FromSeconds(45));
        using var nextMinute = await sidecar.ResolveAsync(token, "gpt-4o");
        Assert.Equal(HttpStatusCode.OK, nextMinute.StatusCode);
    }

    [Fact]
    public async Task Tokens_per_minute_reserve_the_estimate_and_settle_to_actual_use()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(TokensPerMinute: 1000)));

        // Each asks for 100 input + 300 output = 400 tokens of the minute's 1000.
        using var first = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 100, maxOutputTokens: 300);
        using var second = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 100, maxOutputTokens: 300);
        using (var third = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 100, maxOutputTokens: 300))
        {
            await ErrorAssert.IsErrorAsync(third, HttpStatusCode.TooManyRequests, "rate_limit_tpm");
            Assert.Equal(TimeSpan.FromSeconds(45), third.Headers.RetryAfter?.Delta);
        }

        // Both used 50 tokens: 100 of the minute is spent, 900 is free again.
        foreach (var response in new[] { first, second })
        {
            var id = (await TestSidecar.ReadJsonAsync(response)).GetProperty("decisionId").GetString()!;
            using var report = await sidecar.ReportAsync(id, 40, 10);
            Assert.Equal(HttpStatusCode.OK, report.StatusCode);
        }

        using var fits = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 100, maxOutputTokens: 300);
        using var alsoFits = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 100, maxOutputTokens: 300);
        using var full = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 100, maxOutputTokens: 300);
        Assert.Equal(HttpStatusCode.OK, fits.StatusCode);
        Assert.Equal(HttpStatusCode.OK, alsoFits.StatusCode);
        await ErrorAssert.IsErrorAsync(full, HttpStatusCode.TooManyRequests, "rate_limit_tpm");
    }

    [Fact]
    public async Task A_request_larger_than_the_tokens_per_minute_limit_is_told_so()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(TokensPerMinute: 500)));

        using var response = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 100, maxOutputTokens: 1000);

        var error = await ErrorAssert.IsErrorAsync(response, HttpStatusCode.TooManyRequests, "rate_limit_tpm");
        Assert.Contains("exceeds", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Parallel_requests_beyond_the_limit_get_429_until_one_reports()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(MaxParallelRequests: 2)));

        using var first = await sidecar.ResolveAsync(token, "gpt-4o");
        using var second = await sidecar.ResolveAsync(token, "gpt-4o");
        using (var third = await sidecar.ResolveAsync(token, "gpt-4o"))
        {
            await ErrorAssert.IsErrorAsync(third, HttpStatusCode.TooManyRequests, "rate_limit_parallel");
            Assert.NotNull(third.Headers.RetryAfter);
        }

        var id = (await TestSidecar.ReadJsonAsync(first)).GetProperty("decisionId").GetString()!;
        using var report = await sidecar.ReportAsync(id, 10, 10);
        using var afterReport = await sidecar.ResolveAsync(token, "gpt-4o");

        Assert.Equal(HttpStatusCode.OK, afterReport.StatusCode);
    }

    [Fact]
    public async Task A_spent_daily_budget_is_refused_with_402_until_the_next_UTC_day()
    {
        await using var sidecar = await TestSidecar.StartAsync();

        // gpt-4o: 2.50 USD input and 10 USD output per million tokens.
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(budget: new KeyBudget(0.01m, BudgetPeriod.Daily)));
        using (var resolve = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 1000, maxOutputTokens: 1000))
        {
            var id = (await TestSidecar.ReadJsonAsync(resolve)).GetProperty("decisionId").GetString()!;
            using var report = await sidecar.ReportAsync(id, 2000, 1000);
            Assert.Equal(0.015m, (await TestSidecar.ReadJsonAsync(report)).GetProperty("costUsd").GetDecimal());
        }

        using (var refused = await sidecar.ResolveAsync(token, "gpt-4o"))
        {
            var error = await ErrorAssert.IsErrorAsync(refused, HttpStatusCode.PaymentRequired, "budget_exhausted");
            Assert.Equal("insufficient_quota", error.GetProperty("type").GetString());
            Assert.Equal(TestSidecar.Start.Date.AddDays(1) - TestSidecar.Start.UtcDateTime, refused.Headers.RetryAfter?.Delta);
        }

        sidecar.Time.SetUtcNow(new DateTimeOffset(TestSidecar.Start.Date.AddDays(1), TimeSpan.Zero));
        using var nextDay = await sidecar.ResolveAsync(token, "gpt-4o");
        Assert.Equal(HttpStatusCode.OK, nextDay.StatusCode);
    }

    [Fact]
    public async Task A_total_budget_never_renews_and_says_so()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(budget: new KeyBudget(0m, BudgetPeriod.Total)));

        using var refused = await sidecar.ResolveAsync(token, "gpt-4o");

        var error = await ErrorAssert.IsErrorAsync(refused, HttpStatusCode.PaymentRequired, "budget_exhausted");
        Assert.Null(refused.Headers.RetryAfter);
        Assert.Contains("total budget", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_requests_never_overspend_a_small_budget_by_more_than_in_flight_estimates()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        const decimal cap = 0.05m;
        var price = PricingTable.Load(null, default).Find("gpt-4o", out _);
        var estimate = price.Cost(1000, 1000); // 0.0125 USD per request
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(budget: new KeyBudget(cap, BudgetPeriod.Monthly)));

        // 40 routers at once, each reporting exactly what it reserved.
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 40).Select(async _ =>
        {
            using var response = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 1000, maxOutputTokens: 1000);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
                return false;
            }

            var id = (await TestSidecar.ReadJsonAsync(response)).GetProperty("decisionId").GetString()!;
            using var report = await sidecar.ReportAsync(id, 1000, 1000);
            Assert.Equal(HttpStatusCode.OK, report.StatusCode);
            return true;
        }));

        var admitted = outcomes.Count(ok => ok);
        var records = await sidecar.WaitForUsageAsync(r => r.Count(x => x.Outcome == UsageOutcome.Success) == admitted);
        var spent = records.Where(r => r.Outcome == UsageOutcome.Success).Sum(r => r.CostUsd);
        Assert.True(admitted >= (int)(cap / estimate), $"only {admitted} admitted");
        Assert.True(spent < cap + estimate, $"spent {spent} on a cap of {cap} with estimates of {estimate}");
        Assert.Contains(outcomes, ok => !ok);
    }

    [Fact]
    public async Task Refused_requests_do_not_count_against_other_limits()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(RequestsPerMinute: 2, MaxParallelRequests: 1)));

        using var holding = await sidecar.ResolveAsync(token, "gpt-4o");
        using (var parallelRefused = await sidecar.ResolveAsync(token, "gpt-4o"))
        {
            await ErrorAssert.IsErrorAsync(parallelRefused, HttpStatusCode.TooManyRequests, "rate_limit_parallel");
        }

        var id = (await TestSidecar.ReadJsonAsync(holding)).GetProperty("decisionId").GetString()!;
        using var report = await sidecar.ReportAsync(id, 1, 1);

        // The refused request took no RPM: the second of two is still available.
        using var second = await sidecar.ResolveAsync(token, "gpt-4o");
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
    }
}
