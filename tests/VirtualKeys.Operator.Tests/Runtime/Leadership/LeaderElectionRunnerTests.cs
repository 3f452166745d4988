using VirtualKeys.Operator.Runtime.Leadership;

namespace VirtualKeys.Operator.Tests.Runtime.Leadership;

public sealed class LeaderElectionRunnerTests
{
    [Fact]
    public async Task With_election_off_the_work_runs_at_once_and_is_never_told_the_lease_is_lost()
    {
        var runner = new LeaderElectionRunner(null, new LeaderElectionOptions { Enabled = false });
        var sawLeader = false;
        var lostToken = new CancellationToken(true);

        await runner.RunAsync(
            lost =>
            {
                sawLeader = runner.IsLeader;
                lostToken = lost;
                return Task.CompletedTask;
            },
            TestContext.Current.CancellationToken);

        Assert.True(sawLeader);
        Assert.False(lostToken.CanBeCanceled);
        Assert.False(runner.IsLeader);
    }

    [Theory]
    [InlineData(15, 5, 1, true)]
    [InlineData(3, 0.8, 0.2, true)]
    [InlineData(15, 15, 2, false)]
    [InlineData(15, 10, 10, false)]
    [InlineData(15, 7.5, 1, false)] // a renewal answered 7.5 s late: the leader could lead until 16 s after it, a standby take over after 12
    [InlineData(15, 10, 2, false)] // client-go's defaults: a standby would wait 9 s
    [InlineData(3, 0.95, 0.2, false)] // the Lease keeps whole seconds: a standby waits 2 s, not 2.4
    [InlineData(1.2, 0.3, 0.1, false)] // a standby would wait less than a second
    public void A_leader_that_cannot_renew_stops_before_a_standby_may_take_over(double lease, double renew, double retry, bool valid)
    {
        var options = new LeaderElectionOptions
        {
            LeaseDuration = TimeSpan.FromSeconds(lease),
            RenewDeadline = TimeSpan.FromSeconds(renew),
            RetryPeriod = TimeSpan.FromSeconds(retry),
        };

        var error = Record.Exception(options.Validate);

        Assert.Equal(valid, error is null);
    }

    [Fact]
    public void The_timings_for_any_lease_of_3_s_or_more_are_valid_and_hand_over_within_the_lease()
    {
        for (var tenths = 30; tenths <= 1200; tenths++)
        {
            var lease = TimeSpan.FromSeconds(tenths / 10.0);
            var options = LeaderElectionOptions.ForLease(lease);

            options.Validate();
            Assert.True(options.StandbyWait + (2 * options.RetryPeriod) < lease, $"lease {lease}");
            Assert.True(options.RetryPeriod + (2 * options.RenewDeadline) <= options.StandbyWait - (lease / 15) + TimeSpan.FromTicks(1), $"lease {lease}");
        }

        var fifteen = LeaderElectionOptions.ForLease(TimeSpan.FromSeconds(15));
        Assert.Equal((TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1)), (fifteen.StandbyWait, fifteen.RenewDeadline, fifteen.RetryPeriod));
    }

    [Fact]
    public void Election_on_needs_a_client()
    {
        Assert.Throws<ArgumentNullException>(() => new LeaderElectionRunner(null, new LeaderElectionOptions()));
    }

    [Fact]
    public void Each_default_identity_is_unique_so_a_restarted_pod_starts_a_new_term()
    {
        Assert.NotEqual(new LeaderElectionOptions().Identity, new LeaderElectionOptions().Identity);
    }
}
