using System.Net;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Metering;

/// <summary>
/// When usage reaches the sink: at <see cref="SidecarOptions.UsageBatchSize"/> records, or once the
/// oldest waiting one has waited <see cref="SidecarOptions.UsageFlushInterval"/> on the sidecar's clock.
/// </summary>
public sealed class UsageFlushPolicyTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Records_are_written_once_the_oldest_has_waited_the_flush_interval()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => (o.UsageBatchSize, o.UsageFlushInterval) = (100, Interval));
        var (_, token) = await sidecar.AddKeyAsync();
        await ServeAsync(sidecar, token);
        sidecar.Time.Advance(TimeSpan.FromSeconds(4));
        await ServeAsync(sidecar, token);

        sidecar.Time.Advance(TimeSpan.FromSeconds(5.9));
        await LetTheFlusherRunAsync();
        var beforeTheInterval = sidecar.Usage.Records;
        sidecar.Time.Advance(TimeSpan.FromSeconds(0.1));
        var written = await sidecar.WaitForUsageAsync(r => r.Count == 2);

        Assert.Empty(beforeTheInterval);
        Assert.All(written, r => Assert.Equal(UsageOutcome.Success, r.Outcome));
    }

    [Fact]
    public async Task A_full_batch_is_written_without_waiting_for_the_interval()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => (o.UsageBatchSize, o.UsageFlushInterval) = (3, TimeSpan.FromHours(1)));
        var (_, token) = await sidecar.AddKeyAsync();
        await ServeAsync(sidecar, token);
        await ServeAsync(sidecar, token);

        await LetTheFlusherRunAsync();
        var beforeTheBatchIsFull = sidecar.Usage.Records;
        await ServeAsync(sidecar, token);
        var written = await sidecar.WaitForUsageAsync(r => r.Count == 3);

        Assert.Empty(beforeTheBatchIsFull);
        Assert.Equal(3, written.Count);
    }

    [Fact]
    public async Task Refusals_alone_wait_for_the_interval_and_are_written_as_one_count()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => (o.UsageBatchSize, o.UsageFlushInterval) = (1, Interval));
        var (entry, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(RequestsPerMinute: 1)));
        using var admitted = await sidecar.ResolveAsync(token, "gpt-4o");
        await RefuseAsync(sidecar, token, times: 3);

        await LetTheFlusherRunAsync();
        sidecar.Time.Advance(Interval - TimeSpan.FromSeconds(1));
        await LetTheFlusherRunAsync();
        var beforeTheInterval = sidecar.Usage.Records;
        sidecar.Time.Advance(TimeSpan.FromSeconds(1));
        var written = await sidecar.WaitForUsageAsync(r => r.Count > 0);

        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        Assert.Empty(beforeTheInterval);
        var refusals = Assert.Single(written);
        Assert.Equal((UsageOutcome.Rejected, "rate_limit_rpm", 3, entry.KeyId), (refusals.Outcome, refusals.Detail, refusals.Count, refusals.KeyId));
    }

    [Fact]
    public async Task Refusals_ride_along_with_the_next_write()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => (o.UsageBatchSize, o.UsageFlushInterval) = (1, TimeSpan.FromHours(1)));
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(RequestsPerMinute: 1)));
        using var admitted = await sidecar.ResolveAsync(token, "gpt-4o");
        await RefuseAsync(sidecar, token, times: 2);

        await LetTheFlusherRunAsync();
        var refusalsOnly = sidecar.Usage.Records;
        using var report = await sidecar.ReportAsync(await DecisionIdAsync(admitted), 10, 10);
        var written = await sidecar.WaitForUsageAsync(r => r.Any(x => x.Outcome == UsageOutcome.Success));

        Assert.Empty(refusalsOnly);
        Assert.Equal(2, Assert.Single(written, r => r.Outcome == UsageOutcome.Rejected).Count);
    }

    [Fact]
    public async Task Shutdown_writes_every_waiting_record_and_refusal()
    {
        var sidecar = await TestSidecar.StartAsync(o => (o.UsageBatchSize, o.UsageFlushInterval) = (500, TimeSpan.FromHours(1)));
        try
        {
            var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(RequestsPerMinute: 1)));
            await ServeAsync(sidecar, token);
            await RefuseAsync(sidecar, token, times: 2);
            await LetTheFlusherRunAsync();
            var beforeShutdown = sidecar.Usage.Records;

            await sidecar.Host.StopAsync(TestSidecar.Cancel);

            Assert.Empty(beforeShutdown);
            Assert.Single(sidecar.Usage.Records, r => r.Outcome == UsageOutcome.Success);
            Assert.Equal(2, Assert.Single(sidecar.Usage.Records, r => r.Outcome == UsageOutcome.Rejected).Count);
        }
        finally
        {
            await sidecar.DisposeAsync();
        }
    }

    [Fact]
    public void A_flush_interval_of_zero_is_refused_at_start_up()
    {
        var options = new SidecarOptions { UsageFlushInterval = TimeSpan.Zero };

        var error = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.Contains("UsageFlushInterval must be positive", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Real time for the flusher to act on what it was woken for. Only "nothing was written" is checked
    /// after it: a slow machine can make such a check pass wrongly, never fail wrongly.
    /// </summary>
    private static Task LetTheFlusherRunAsync() => Task.Delay(TimeSpan.FromMilliseconds(200), TestSidecar.Cancel);

    [Fact]
    public async Task A_record_the_sink_refuses_is_logged_and_counted_and_the_rest_of_its_batch_is_written()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => (o.UsageBatchSize, o.UsageFlushInterval) = (4, TimeSpan.FromHours(1)));
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Usage.Refuse(r => r.InputTokens == 13);
        foreach (var input in new[] { 10, 11, 13, 12 })
        {
            using var resolve = await sidecar.ResolveAsync(token, "gpt-4o");
            using var report = await sidecar.ReportAsync(await DecisionIdAsync(resolve), input, 5);
            Assert.Equal(HttpStatusCode.OK, report.StatusCode);
        }

        var written = await sidecar.WaitForUsageAsync(r => r.Count == 3);

        // The one record that cannot be stored does not hold up the others, or anything after them.
        Assert.Equal([10L, 11L, 12L], written.Select(r => r.InputTokens).Order());
        Assert.Contains("vk_sidecar_usage_records_refused_total 1", await sidecar.MetricsAsync(), StringComparison.Ordinal);
        Assert.Contains(sidecar.Logs.Lines, l => l.StartsWith("Error ", StringComparison.Ordinal) && l.Contains("is refused by the usage sink and is not recorded", StringComparison.Ordinal) && l.Contains("13 input", StringComparison.Ordinal));
        for (var i = 0; i < 4; i++)
        {
            await ServeAsync(sidecar, token);
        }

        Assert.Equal(7, (await sidecar.WaitForUsageAsync(r => r.Count == 7)).Count);
    }

    private static async Task ServeAsync(TestSidecar sidecar, string token)
    {
        using var resolve = await sidecar.ResolveAsync(token, "gpt-4o");
        using var report = await sidecar.ReportAsync(await DecisionIdAsync(resolve), 10, 10);
        Assert.Equal(HttpStatusCode.OK, report.StatusCode);
    }

    private static async Task RefuseAsync(TestSidecar sidecar, string token, int times)
    {
        for (var i = 0; i < times; i++)
        {
            using var refused = await sidecar.ResolveAsync(token, "gpt-4o");
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }
    }

    private static async Task<string> DecisionIdAsync(HttpResponseMessage resolve) =>
        (await TestSidecar.ReadJsonAsync(resolve)).GetProperty("decisionId").GetString()!;
}
