using System.Diagnostics;
using k8s;
using k8s.Models;
using VirtualKeys.Operator.Runtime.Leadership;
using VirtualKeys.Operator.Tests.Runtime.Support;

namespace VirtualKeys.Operator.Tests.Runtime.Leadership;

/// <summary>
/// Leader election on a Lease of the local API server. KubernetesClient's elector keeps real
/// time, so these tests use short leases and bound every wait.
/// </summary>
public sealed class LeaderElectionAgainstApiServerTests : IAsyncLifetime
{
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(4);
    private readonly List<Candidate> _candidates = [];
    private TestCluster _cluster = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _cluster = await TestCluster.StartAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var candidate in _candidates)
        {
            await candidate.StopAsync();
        }

        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task Of_two_candidates_on_one_lease_only_one_leads()
    {
        var a = Campaign("a");
        var b = Campaign("b");
        await Wait.UntilAsync(() => a.Runner.IsLeader || b.Runner.IsLeader, () => "someone leads");

        // Several renewals and standby attempts happen in this window.
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(2))
        {
            Assert.False(a.Leading && b.Leading, "both candidates were leading at once");
            await Task.Delay(20, Ct);
        }

        var leader = a.Runner.IsLeader ? a : b;
        Assert.Equal(leader.Runner.Identity, (await ReadLeaseAsync()).Spec.HolderIdentity);
        Assert.Equal(1, a.Terms + b.Terms);
    }

    [Fact]
    public async Task A_graceful_stop_releases_the_lease_and_the_standby_takes_over_well_before_it_would_expire()
    {
        var a = Campaign("a");
        await Wait.UntilAsync(() => a.Runner.IsLeader, () => "a leads");
        var b = Campaign("b");

        await a.StopAsync();
        var handover = Stopwatch.StartNew();
        await Wait.UntilAsync(() => b.Runner.IsLeader, () => "b takes over");

        Assert.True(handover.Elapsed < LeaseDuration, $"takeover took {handover.Elapsed}, no faster than waiting for expiry");
        Assert.Equal("b", (await ReadLeaseAsync()).Spec.HolderIdentity);
    }

    [Fact]
    public async Task A_standby_takes_over_within_the_lease_duration_when_the_leader_vanishes()
    {
        // A leader that crashed: its lease was renewed a moment ago and will never be again. It wrote
        // the standby's wait into the Lease, as every replica of the operator does.
        var wait = Options().StandbyWait;
        var now = DateTime.UtcNow;
        await _cluster.Client.CoordinationV1.CreateNamespacedLeaseAsync(
            new V1Lease
            {
                Metadata = new V1ObjectMeta { Name = "operator", NamespaceProperty = "default" },
                Spec = new V1LeaseSpec { HolderIdentity = "crashed", LeaseDurationSeconds = (int)wait.TotalSeconds, AcquireTime = now, RenewTime = now },
            },
            "default",
            cancellationToken: Ct);
        var started = Stopwatch.StartNew();

        var b = Campaign("b");
        await Wait.UntilAsync(() => b.Runner.IsLeader, () => "b takes over");

        // Not before the wait (the leader might still be leading), and within the lease duration.
        Assert.InRange(started.Elapsed, wait, LeaseDuration);
    }

    [Fact]
    public async Task Losing_the_lease_cancels_the_leading_work_at_once_and_the_candidate_campaigns_again()
    {
        var a = Campaign("a");
        await Wait.UntilAsync(() => a.Runner.IsLeader, () => "a leads");

        _cluster.Server.Faults.FailNext(100_000, 500, "leases");
        await Wait.UntilAsync(() => a.LostTerms == 1, () => "a's work is cancelled");
        Assert.False(a.Runner.IsLeader);

        _cluster.Server.Faults.Reset();
        await Wait.UntilAsync(() => a.Terms == 2 && a.Runner.IsLeader, () => "a leads again");
    }

    private async Task<V1Lease> ReadLeaseAsync() =>
        await _cluster.Client.CoordinationV1.ReadNamespacedLeaseAsync("operator", "default", cancellationToken: Ct);

    private static LeaderElectionOptions Options()
    {
        var options = LeaderElectionOptions.ForLease(LeaseDuration);
        options.LeaseName = "operator";
        options.LeaseNamespace = "default";
        return options;
    }

    private Candidate Campaign(string identity)
    {
        var options = Options();
        options.Identity = identity;
        var runner = new LeaderElectionRunner(_cluster.Client, options);
        var candidate = new Candidate(runner);
        _candidates.Add(candidate);
        return candidate;
    }

    /// <summary>A process campaigning for the lease: while it leads, it works until the lease is lost or it is stopped.</summary>
    private sealed class Candidate
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _run;
        private int _terms;
        private int _lostTerms;
        private int _leading;

        public Candidate(LeaderElectionRunner runner)
        {
            Runner = runner;
            _run = runner.RunAsync(WorkAsync, _stop.Token);
        }

        public LeaderElectionRunner Runner { get; }

        public int Terms => Volatile.Read(ref _terms);

        public int LostTerms => Volatile.Read(ref _lostTerms);

        public bool Leading => Volatile.Read(ref _leading) == 1;

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _run.WaitAsync(Wait.Bound, TestContext.Current.CancellationToken);
        }

        private async Task WorkAsync(CancellationToken lost)
        {
            Interlocked.Increment(ref _terms);
            Volatile.Write(ref _leading, 1);
            using var either = CancellationTokenSource.CreateLinkedTokenSource(lost, _stop.Token);
            try
            {
                await Task.Delay(Timeout.Infinite, either.Token);
            }
            catch (OperationCanceledException)
            {
                if (lost.IsCancellationRequested)
                {
                    Interlocked.Increment(ref _lostTerms);
                }
            }
            finally
            {
                Volatile.Write(ref _leading, 0);
            }
        }
    }
}
