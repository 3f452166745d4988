using Microsoft.Extensions.Time.Testing;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Sidecar.Snapshot;

namespace VirtualKeys.Sidecar.Tests.Limits;

public sealed class LocalQuotaStoreTests
{
    private static readonly DateTimeOffset Monday = new(2026, 1, 5, 23, 59, 30, TimeSpan.Zero);

    [Fact]
    public async Task Concurrent_admissions_take_exactly_the_requests_per_minute()
    {
        var store = new LocalQuotaStore(new FakeTimeProvider(Monday));
        var demand = new QuotaDemand(new KeyLimits(RequestsPerMinute: 100), null, 0, 0m);

        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(_ => Task.Run(() => store.TryAdmit("key", demand), TestContext.Current.CancellationToken)));

        Assert.Equal(100, results.Count(r => r.Admitted));
        Assert.All(results.Where(r => !r.Admitted), r => Assert.Equal(QuotaRefusalReason.RequestsPerMinute, r.Reason));
    }

    [Fact]
    public async Task Concurrent_admissions_hold_at_most_the_parallel_limit()
    {
        var store = new LocalQuotaStore(new FakeTimeProvider(Monday));
        var demand = new QuotaDemand(new KeyLimits(MaxParallelRequests: 7), null, 0, 0m);
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // 500 requests race for the slots, released together; none settles until all are decided, so
        // every admitted one still holds its slot while the others ask.
        var attempts = Enumerable.Range(0, 500).Select(_ => Task.Run(
            async () =>
            {
                await go.Task;
                return store.TryAdmit("key", demand);
            },
            TestContext.Current.CancellationToken)).ToArray();
        go.SetResult();
        var decisions = await Task.WhenAll(attempts);
        var held = store.GetState("key").InFlight;
        var admitted = decisions.Where(d => d.Admitted).ToArray();
        Assert.Equal(7, admitted.Length);

        var whileFull = store.TryAdmit("key", demand);
        store.Settle(admitted[0].Ticket, 0, 0m);
        var afterOneSettled = store.TryAdmit("key", demand);
        var fullAgain = store.TryAdmit("key", demand);
        foreach (var decision in admitted.Skip(1).Append(afterOneSettled))
        {
            store.Settle(decision.Ticket, 0, 0m);
        }

        Assert.Equal(7, held);
        Assert.All(decisions.Where(d => !d.Admitted), d =>
        {
            Assert.Equal(QuotaRefusalReason.ParallelRequests, d.Reason);
            Assert.Equal(TimeSpan.FromSeconds(1), d.RetryAfter);
            Assert.False(d.NeverFits);
        });
        Assert.Equal(QuotaRefusalReason.ParallelRequests, whileFull.Reason);
        Assert.True(afterOneSettled.Admitted, "a settled request frees its slot for the next one");
        Assert.Equal(QuotaRefusalReason.ParallelRequests, fullAgain.Reason);
        Assert.Equal(0, store.GetState("key").InFlight);
    }

    [Fact]
    public void Budget_rolls_over_on_the_UTC_day_boundary_and_keeps_in_flight_reservations()
    {
        var time = new FakeTimeProvider(Monday);
        var store = new LocalQuotaStore(time);
        var budget = new KeyBudget(1m, BudgetPeriod.Daily);
        var spend = new QuotaDemand(KeyLimits.None, budget, 0, 0.6m);

        var first = store.TryAdmit("key", spend);
        store.Settle(first.Ticket, 0, 0.6m);
        var inFlight = store.TryAdmit("key", spend);
        var refused = store.TryAdmit("key", spend);

        time.Advance(TimeSpan.FromSeconds(30));
        var state = store.GetState("key");
        var admittedAfterMidnight = store.TryAdmit("key", spend);

        Assert.True(first.Admitted);
        Assert.True(inFlight.Admitted);
        Assert.Equal(QuotaRefusalReason.Budget, refused.Reason);
        Assert.Equal(TimeSpan.FromSeconds(30), refused.RetryAfter);
        Assert.Equal(0m, state.SpentUsd);
        Assert.Equal(0.6m, state.ReservedUsd);
        Assert.Equal(new DateTimeOffset(2026, 1, 6, 0, 0, 0, TimeSpan.Zero), state.PeriodStart);
        Assert.True(admittedAfterMidnight.Admitted);
    }

    [Theory]
    [InlineData(BudgetPeriod.Daily, "2026-01-07T13:14:15Z", "2026-01-07T00:00:00Z", "2026-01-08T00:00:00Z")]
    [InlineData(BudgetPeriod.Weekly, "2026-01-07T13:14:15Z", "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z")]
    [InlineData(BudgetPeriod.Weekly, "2026-01-11T23:59:59Z", "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z")]
    [InlineData(BudgetPeriod.Weekly, "2026-01-12T00:00:00Z", "2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z")]
    [InlineData(BudgetPeriod.Monthly, "2026-02-28T23:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z")]
    [InlineData(BudgetPeriod.Monthly, "2026-12-31T23:00:00+00:00", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")]
    public void Budget_periods_start_and_end_on_UTC_boundaries(BudgetPeriod period, string now, string start, string next)
    {
        var at = DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), BudgetPeriods.Start(period, at));
        Assert.Equal(DateTimeOffset.Parse(next, System.Globalization.CultureInfo.InvariantCulture), BudgetPeriods.NextStart(period, at));
    }

    [Fact]
    public void Weeks_follow_UTC_even_when_the_local_offset_is_a_different_day()
    {
        // Monday 01:00 at +05:00 is Sunday 20:00 UTC: still the previous ISO week.
        var at = new DateTimeOffset(2026, 1, 12, 1, 0, 0, TimeSpan.FromHours(5));

        Assert.Equal(new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero), BudgetPeriods.Start(BudgetPeriod.Weekly, at));
    }

    [Fact]
    public void A_total_budget_has_no_next_period()
    {
        Assert.Null(BudgetPeriods.NextStart(BudgetPeriod.Total, Monday));
    }

    [Fact]
    public void Token_settlement_after_the_window_rolled_does_not_touch_the_new_window()
    {
        var time = new FakeTimeProvider(Monday);
        var store = new LocalQuotaStore(time);
        var demand = new QuotaDemand(new KeyLimits(TokensPerMinute: 1000), null, 800, 0m);

        var old = store.TryAdmit("key", demand);
        time.Advance(TimeSpan.FromSeconds(30));
        var fresh = store.TryAdmit("key", demand);
        store.Settle(old.Ticket, 5000, 0m);

        Assert.True(fresh.Admitted);
        Assert.Equal(800, store.GetState("key").TokensThisMinute);
    }

    [Fact]
    public void Spend_recorded_elsewhere_counts_against_the_budget()
    {
        var store = new LocalQuotaStore(new FakeTimeProvider(Monday));
        var demand = new QuotaDemand(KeyLimits.None, new KeyBudget(5m, BudgetPeriod.Monthly), 0, 0.1m);

        store.ObserveRecordedSpend("key", BudgetPeriod.Monthly, 5m);
        var refused = store.TryAdmit("key", demand);
        store.ObserveRecordedSpend("key", BudgetPeriod.Monthly, 1m);

        Assert.Equal(QuotaRefusalReason.Budget, refused.Reason);
        Assert.Equal(5m, store.GetState("key").SpentUsd);
    }
}
