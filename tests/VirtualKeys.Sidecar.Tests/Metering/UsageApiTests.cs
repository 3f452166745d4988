using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Metering;

public sealed class UsageApiTests
{
    [Fact]
    public async Task A_usage_report_is_recorded_once_however_often_it_is_sent()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (entry, token) = await sidecar.AddKeyAsync("billing");
        using var resolve = await sidecar.ResolveAsync(token, "gpt-4o");
        var id = (await TestSidecar.ReadJsonAsync(resolve)).GetProperty("decisionId").GetString()!;

        using var first = await sidecar.ReportAsync(id, 1000, 500, 200);
        using var again = await sidecar.ReportAsync(id, 1000, 500, 200);

        var firstBody = await TestSidecar.ReadJsonAsync(first);
        var againBody = await TestSidecar.ReadJsonAsync(again);
        Assert.Equal("recorded", firstBody.GetProperty("status").GetString());
        Assert.Equal(0.0075m, firstBody.GetProperty("costUsd").GetDecimal());
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("already_settled", againBody.GetProperty("status").GetString());

        var records = await sidecar.WaitForUsageAsync(r => r.Count > 0);
        var record = Assert.Single(records);
        Assert.Equal(id, record.RecordId);
        Assert.Equal(entry.KeyId, record.KeyId);
        Assert.Equal(("team-a", "billing", "gpt-4o"), (record.Namespace, record.Name, record.Model));
        Assert.Equal((1000L, 500L, 0.0075m), (record.InputTokens, record.OutputTokens, record.CostUsd));
        Assert.Equal(UsageOutcome.Success, record.Outcome);
        Assert.Equal("openai", record.Provider);
        Assert.Equal(12.5, record.LatencyMs);
    }

    [Fact]
    public async Task A_record_says_whether_its_key_has_a_budget_so_the_registry_counts_that_spend_per_key_at_once()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (budgeted, budgetedToken) = await sidecar.AddKeyAsync("capped", customize: e => e.With(budget: new KeyBudget(100m, BudgetPeriod.Monthly)));
        var (unbudgeted, unbudgetedToken) = await sidecar.AddKeyAsync("open");

        foreach (var token in new[] { budgetedToken, unbudgetedToken })
        {
            using var resolve = await sidecar.ResolveAsync(token, "gpt-4o");
            using var report = await sidecar.ReportAsync((await TestSidecar.ReadJsonAsync(resolve)).GetProperty("decisionId").GetString()!, 10, 10);
            Assert.Equal(HttpStatusCode.OK, report.StatusCode);
        }

        var records = await sidecar.WaitForUsageAsync(r => r.Count >= 2);

        Assert.True(Assert.Single(records, r => r.KeyId == budgeted.KeyId).KeyHasBudget);
        Assert.False(Assert.Single(records, r => r.KeyId == unbudgeted.KeyId).KeyHasBudget);
    }

    [Fact]
    public async Task A_failed_upstream_call_is_recorded_as_an_upstream_error()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        using var resolve = await sidecar.ResolveAsync(token, "gpt-4o");
        var id = (await TestSidecar.ReadJsonAsync(resolve)).GetProperty("decisionId").GetString()!;

        using var report = await sidecar.ReportAsync(id, 10, 0, 503);

        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(UsageOutcome.UpstreamError, record.Outcome);
        Assert.Equal("503", record.Detail);
    }

    [Fact]
    public async Task A_report_for_a_decision_never_issued_is_404()
    {
        await using var sidecar = await TestSidecar.StartAsync();

        using var response = await sidecar.ReportAsync("d0123456789abcdef0123456789abcdef", 1, 1);

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, "decision_not_found");
    }

    [Fact]
    public async Task An_unreported_decision_expires_releases_its_slot_and_is_settled_at_its_estimate()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => o.DecisionTtl = TimeSpan.FromMinutes(2));
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(MaxParallelRequests: 1)));
        using var held = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 300, maxOutputTokens: 200);
        var id = (await TestSidecar.ReadJsonAsync(held)).GetProperty("decisionId").GetString()!;
        using (var blocked = await sidecar.ResolveAsync(token, "gpt-4o"))
        {
            await ErrorAssert.IsErrorAsync(blocked, HttpStatusCode.TooManyRequests, "rate_limit_parallel");
        }

        sidecar.Time.Advance(TimeSpan.FromMinutes(2.5));
        using var afterExpiry = await sidecar.ResolveAsync(token, "gpt-4o");
        using var lateReport = await sidecar.ReportAsync(id, 1, 1);

        Assert.Equal(HttpStatusCode.OK, afterExpiry.StatusCode);
        Assert.Equal("already_settled", (await TestSidecar.ReadJsonAsync(lateReport)).GetProperty("status").GetString());
        var expired = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Any(x => x.Outcome == UsageOutcome.Expired)), r => r.Outcome == UsageOutcome.Expired);
        Assert.Equal(id, expired.RecordId);
        Assert.True(expired.Estimated);
        Assert.Equal((300L, 200L), (expired.InputTokens, expired.OutputTokens));
    }

    [Theory]
    [InlineData("1.00:00:01")]
    [InlineData("10675199.02:48:05")]
    public void A_decision_ttl_over_a_day_is_refused_at_start_up(string ttl)
    {
        var options = new SidecarOptions { DecisionTtl = TimeSpan.Parse(ttl, CultureInfo.InvariantCulture) };

        var error = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.Contains("DecisionTtl must be at most 1.00:00:00", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_decision_ttl_of_a_day_is_accepted_and_resolves_answer()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => o.DecisionTtl = SidecarOptions.MaxDecisionTtl);
        var (_, token) = await sidecar.AddKeyAsync();

        using var resolved = await sidecar.ResolveAsync(token, "gpt-4o");

        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
    }

    [Fact]
    public async Task When_the_usage_buffer_is_full_new_requests_get_503_and_recover_when_the_sink_drains()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => o.UsageBufferCapacity = 2);
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Usage.Stall();

        using var first = await sidecar.ResolveAsync(token, "gpt-4o");
        using var second = await sidecar.ResolveAsync(token, "gpt-4o");
        using (var refused = await sidecar.ResolveAsync(token, "gpt-4o"))
        {
            await ErrorAssert.IsErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "usage_buffer_full");
        }

        foreach (var response in new[] { first, second })
        {
            using var report = await sidecar.ReportAsync((await TestSidecar.ReadJsonAsync(response)).GetProperty("decisionId").GetString()!, 5, 5);
        }

        using (var stillFull = await sidecar.ResolveAsync(token, "gpt-4o"))
        {
            await ErrorAssert.IsErrorAsync(stillFull, HttpStatusCode.ServiceUnavailable, "usage_buffer_full");
        }

        Assert.Contains("vk_sidecar_usage_buffer_depth 2", await sidecar.MetricsAsync(), StringComparison.Ordinal);
        Assert.Contains("vk_sidecar_rejections_total{key=\"team-a/app\",reason=\"usage_buffer_full\"} 2", await sidecar.MetricsAsync(), StringComparison.Ordinal);

        sidecar.Usage.Recover();
        await sidecar.WaitForUsageAsync(r => r.Count(x => x.Outcome == UsageOutcome.Success) == 2);
        using var recovered = await PollAsync(() => sidecar.ResolveAsync(token, "gpt-4o"));
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
    }

    [Fact]
    public async Task A_failing_sink_loses_nothing_once_it_recovers()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Usage.Fail();

        for (var i = 0; i < 3; i++)
        {
            using var resolve = await sidecar.ResolveAsync(token, "gpt-4o");
            using var report = await sidecar.ReportAsync((await TestSidecar.ReadJsonAsync(resolve)).GetProperty("decisionId").GetString()!, 10, 10);
        }

        using (var ready = await sidecar.Client.GetAsync("/readyz", TestSidecar.Cancel))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        sidecar.Usage.Recover();
        var records = await AdvanceUntilAsync(sidecar, () => sidecar.Usage.Records.Count(r => r.Outcome == UsageOutcome.Success) == 3);

        Assert.Equal(3, records.Count(r => r.Outcome == UsageOutcome.Success));
        Assert.True(sidecar.Usage.FailedWrites > 0);
    }

    [Fact]
    public async Task Refusals_are_written_as_counts_per_key_and_cause()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (entry, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(RequestsPerMinute: 1)));

        for (var i = 0; i < 4; i++)
        {
            using var response = await sidecar.ResolveAsync(token, "gpt-4o");
        }

        sidecar.Time.Advance(new SidecarOptions().UsageFlushInterval);
        var records = await sidecar.WaitForUsageAsync(r => r.Where(x => x.Outcome == UsageOutcome.Rejected).Sum(x => x.Count) == 3);
        Assert.All(records.Where(r => r.Outcome == UsageOutcome.Rejected), r =>
        {
            Assert.Equal(entry.KeyId, r.KeyId);
            Assert.Equal("rate_limit_rpm", r.Detail);
        });
    }

    [Fact]
    public async Task Shutdown_settles_open_decisions_and_flushes_every_record()
    {
        var sidecar = await TestSidecar.StartAsync();
        try
        {
            var (_, token) = await sidecar.AddKeyAsync();
            using var reported = await sidecar.ResolveAsync(token, "gpt-4o");
            using var report = await sidecar.ReportAsync((await TestSidecar.ReadJsonAsync(reported)).GetProperty("decisionId").GetString()!, 7, 3);
            using var open = await sidecar.ResolveAsync(token, "gpt-4o", estimatedInputTokens: 40, maxOutputTokens: 60);

            await sidecar.Host.StopAsync(TestSidecar.Cancel);

            var records = sidecar.Usage.Records;
            Assert.Contains(records, r => r.Outcome == UsageOutcome.Success && r.InputTokens == 7);
            Assert.Contains(records, r => r.Outcome == UsageOutcome.Expired && r.Detail == "sidecar_shutdown" && r.InputTokens == 40 && r.OutputTokens == 60);
        }
        finally
        {
            await sidecar.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("{\"inputTokens\":1}", "missing_field")]
    [InlineData("{\"decisionId\":\"x\",\"inputTokens\":-1}", "invalid_value")]
    [InlineData("{\"decisionId\":\"x\",\"status\":\"maybe\"}", "invalid_json")]
    [InlineData("{\"decisionId\":\"x\",\"status\":99}", "invalid_json")]
    [InlineData("{\"decisionId\":\"x\",\"outputTokens\":\"12\"}", "invalid_json")]
    public async Task Malformed_usage_reports_are_400(string body, string code)
    {
        await using var sidecar = await TestSidecar.StartAsync();

        using var response = await sidecar.Client.PostAsync("/v1/usage", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), TestSidecar.Cancel);

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, code);
    }

    private static async Task<HttpResponseMessage> PollAsync(Func<Task<HttpResponseMessage>> attempt)
    {
        for (var i = 0; ; i++)
        {
            var response = await attempt();
            if (response.StatusCode == HttpStatusCode.OK || i == 200)
            {
                return response;
            }

            response.Dispose();
            await Task.Delay(25, TestSidecar.Cancel);
        }
    }

    /// <summary>The flusher backs off on the sidecar's clock: move it until the records are in.</summary>
    private static async Task<IReadOnlyList<UsageRecord>> AdvanceUntilAsync(TestSidecar sidecar, Func<bool> done)
    {
        for (var i = 0; i < 400 && !done(); i++)
        {
            sidecar.Time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(10, TestSidecar.Cancel);
        }

        return sidecar.Usage.Records;
    }
}
