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
    [InlineData(15, 10, 2, true)]
    [InlineData(15, 15, 2, false)]
    [InlineData(15, 10, 10, false)]
    public void Durations_must_nest_retry_within_renew_within_lease(int lease, int renew, int retry, bool valid)
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
