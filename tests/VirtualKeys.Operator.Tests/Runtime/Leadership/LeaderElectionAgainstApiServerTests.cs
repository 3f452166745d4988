using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using k8s;
using k8s.Models;
using VirtualKeys.LocalCluster;
using VirtualKeys.Operator.Runtime.Leadership;
using VirtualKeys.Operator.Tests.Runtime.Support;

namespace VirtualKeys.Operator.Tests.Runtime.Leadership;

/// <summary>
/// Leader election on a Lease of the local API server. KubernetesClient's elector keeps real
/// time, so every wait is bounded. The lease is the default 15 s (a 5 s renew deadline): with a
/// short one, a single slow renewal on a loaded machine ends the term and the candidate is elected
/// again, a second term these tests would count. Only the takeover after a crash, which waits out
/// the lease, uses a short one.
/// </summary>
public sealed class LeaderElectionAgainstApiServerTests : IAsyncLifetime
{
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ShortLease = TimeSpan.FromSeconds(4);
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
        var window = 3 * Options(LeaseDuration).RetryPeriod;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < window)
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
        using var history = new LeaseHistory(_cluster.Server);
        var a = Campaign("a");
        await Wait.UntilAsync(() => a.Runner.IsLeader, () => "a leads");
        var b = Campaign("b");

        await a.StopAsync();
        await Wait.UntilAsync(() => b.Runner.IsLeader, () => "b takes over");

        // What the Lease went through: a's last renewal, a's release (no holder), then b's takeover.
        var versions = history.Versions;
        var release = versions.FindIndex(v => string.IsNullOrEmpty(v.Lease.Spec.HolderIdentity));
        Assert.True(release > 0, $"a never released the lease: {LeaseHistory.Describe(versions)}");
        var lastRenewal = versions[release - 1];
        Assert.Equal("a", lastRenewal.Lease.Spec.HolderIdentity);
        Assert.True(versions.Count > release + 1, $"nobody took the released lease: {LeaseHistory.Describe(versions)}");
        var takeover = versions[release + 1];
        Assert.Equal("b", takeover.Lease.Spec.HolderIdentity);

        // A standby counts a lease from when it saw the last renewal, so without the release b could
        // not have taken it before a's last renewal plus the lease's duration.
        var expiry = LeaseHistory.Expiry(lastRenewal.Lease);
        Assert.True(
            takeover.CommittedAt < expiry,
            $"b took the lease at {takeover.CommittedAt:O}, no earlier than a's unreleased lease would have let it ({expiry:O}): {LeaseHistory.Describe(versions)}");
        Assert.Equal("b", (await ReadLeaseAsync()).Spec.HolderIdentity);
    }

    [Fact]
    public async Task A_standby_takes_over_within_the_lease_duration_when_the_leader_vanishes()
    {
        // A leader that crashed: its lease was renewed a moment ago and will never be again. It wrote
        // the standby's wait into the Lease, as every replica of the operator does. A short lease, so
        // the wait fits the test's bound; a re-election of b would not change the two versions read.
        var options = Options(ShortLease);
        var wait = options.StandbyWait;
        var now = DateTime.UtcNow;
        using var history = new LeaseHistory(_cluster.Server);
        await _cluster.Client.CoordinationV1.CreateNamespacedLeaseAsync(
            new V1Lease
            {
                Metadata = new V1ObjectMeta { Name = "operator", NamespaceProperty = "default" },
                Spec = new V1LeaseSpec { HolderIdentity = "crashed", LeaseDurationSeconds = (int)wait.TotalSeconds, AcquireTime = now, RenewTime = now },
            },
            "default",
            cancellationToken: Ct);

        // Wait.Bound is only a safety limit: the elector keeps real time and on a loaded machine its
        // tries come late, so how soon b takes over is not timed here (the reliability suite measures
        // failover); what it must and must not do is read from the Lease.
        var b = Campaign("b", ShortLease);
        await Wait.UntilAsync(() => b.Runner.IsLeader, () => "b takes over");

        var versions = history.Versions;
        Assert.True(versions.Count >= 2, LeaseHistory.Describe(versions));
        var (crashed, takeover) = (versions[0], versions[1]);
        Assert.Equal("crashed", crashed.Lease.Spec.HolderIdentity);
        Assert.Equal("b", takeover.Lease.Spec.HolderIdentity);

        // Not while the crashed leader's lease was valid: it might still have been leading.
        var expiry = LeaseHistory.Expiry(crashed.Lease);
        Assert.True(
            takeover.CommittedAt >= expiry,
            $"b took the lease at {takeover.CommittedAt:O}, while the crashed leader's lease ran until {expiry:O}");

        // Within the lease duration: a standby waits what the holder recorded in the Lease
        // (leaseDurationSeconds), counted from when it saw the last renewal, which it sees at its next
        // try, and takes the lease at its next try after that wait. b, leading now, records the wait
        // every replica of the operator records: no shorter (its standbys would take over while it
        // might still lead), and short enough that if b vanishes in turn, it is replaced within the
        // lease duration.
        Assert.Equal(crashed.Lease.Spec.LeaseDurationSeconds, takeover.Lease.Spec.LeaseDurationSeconds);
        var recordedWait = TimeSpan.FromSeconds(takeover.Lease.Spec.LeaseDurationSeconds ?? 0);
        Assert.True(
            recordedWait + (2 * options.RetryPeriod) < ShortLease,
            $"b recorded a wait of {recordedWait} and its standbys try every {options.RetryPeriod}: they may take over later than the lease duration ({ShortLease}) after its last renewal");
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

    private static LeaderElectionOptions Options(TimeSpan leaseDuration)
    {
        var options = LeaderElectionOptions.ForLease(leaseDuration);
        options.LeaseName = "operator";
        options.LeaseNamespace = "default";
        return options;
    }

    private Candidate Campaign(string identity, TimeSpan? leaseDuration = null)
    {
        var options = Options(leaseDuration ?? LeaseDuration);
        options.Identity = identity;
        var runner = new LeaderElectionRunner(_cluster.Client, options);
        var candidate = new Candidate(runner);
        _candidates.Add(candidate);
        return candidate;
    }

    /// <summary>
    /// Every version of the Lease the API server committed, in order, each with when it was committed
    /// by this machine's clock, the one the electors read. Recorded on the server's side, so the test
    /// sees each renewal, release and takeover however briefly it lasted, without requests of its own.
    /// </summary>
    private sealed class LeaseHistory : IDisposable
    {
        private readonly LocalApiServer _server;
        private readonly ConcurrentQueue<LeaseVersion> _versions = new();
        private string? _failure;

        public LeaseHistory(LocalApiServer server)
        {
            _server = server;
            _server.Committed += OnCommitted;
        }

        public List<LeaseVersion> Versions
        {
            get
            {
                Assert.Null(_failure);
                return [.. _versions.OrderBy(v => long.Parse(v.Lease.Metadata.ResourceVersion, CultureInfo.InvariantCulture))];
            }
        }

        /// <summary>When the lease runs out if its holder does not renew it: its last renewal plus its duration.</summary>
        public static DateTime Expiry(V1Lease lease) =>
            lease.Spec.RenewTime!.Value.ToUniversalTime() + TimeSpan.FromSeconds(lease.Spec.LeaseDurationSeconds!.Value);

        public static string Describe(IEnumerable<LeaseVersion> versions) =>
            string.Join("; ", versions.Select(v =>
                $"holder '{v.Lease.Spec.HolderIdentity}' renewed {v.Lease.Spec.RenewTime?.ToUniversalTime():O} for {v.Lease.Spec.LeaseDurationSeconds} s, committed {v.CommittedAt:O}"));

        public void Dispose() => _server.Committed -= OnCommitted;

        // Raised on the server's writing thread after the commit: nothing may escape into the request.
        private void OnCommitted(string storageKey, byte[] json)
        {
            var committedAt = DateTime.UtcNow;
            if (storageKey != "coordination.k8s.io/leases")
            {
                return;
            }

            try
            {
                _versions.Enqueue(new LeaseVersion(KubernetesJson.Deserialize<V1Lease>(Encoding.UTF8.GetString(json)), committedAt));
            }
            catch (Exception e)
            {
                _failure ??= $"A committed Lease could not be read: {e}";
            }
        }
    }

    private sealed record LeaseVersion(V1Lease Lease, DateTime CommittedAt);

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
