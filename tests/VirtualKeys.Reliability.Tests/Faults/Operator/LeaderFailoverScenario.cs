using System.Globalization;
using System.Net;
using k8s;
using k8s.Autorest;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>
/// Issue #8: two operator processes with leader election on the API server's Lease; the leader is
/// SIGKILLed while VirtualKeys change; the standby takes over within the lease duration, and the
/// standby never wrote while the leader lived. Each replica reaches the API server through its own
/// audit proxy, which is how writes are attributed to a replica.
/// </summary>
[Collection(AloneCollection.Name)]
public sealed class LeaderFailoverScenario(PostgresFixture postgres)
{
    private const string LeaseName = "virtual-key-operator";

    [Fact]
    public async Task Killed_leader_is_replaced_by_the_standby_within_the_lease_duration_without_double_writes()
    {
        var ct = TestContext.Current.CancellationToken;
        var seed = ScenarioSeed.Next("operator-leader-failover");
        var timing = new Random(unchecked(seed * 31 + 7));
        var failovers = ReliabilityRun.Pick(1, 6);
        var knobs = new OperatorKnobs(LeaderElection: true, LeaseDuration: TimeSpan.FromSeconds(3), TokenRotationGrace: TimeSpan.FromSeconds(2));
        await using var cluster = await ChaosCluster.StartAsync(postgres, "failover", ct);
        var replicas = new List<OperatorReplica>();
        try
        {
            var driver = new ChaosDriver(cluster, new Random(seed), names: ReliabilityRun.Pick(4, 8));
            await driver.SeedAsync(ct);
            var leader = await StartReplicaAsync(cluster, "op-0", knobs, replicas, ct);
            await WaitForHolderAsync(cluster, leader.Identity, TimeSpan.FromSeconds(60), ct);
            var standby = await StartStandbyAsync(cluster, "op-1", knobs, replicas, ct);

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var driving = driver.RunAsync(stop.Token);
            var takeovers = new List<double>();
            var afterRenewal = new List<double>();
            var firstWrites = new List<double>();
            var standbyWrites = 0;
            for (var i = 1; i <= failovers; i++)
            {
                await Task.Delay(timing.Next(1_000, 3_000), ct);
                leader.Process.Kill();
                var killedAt = leader.Process.KilledAt!.Value;
                var (acquiredAt, lastRenewal) = await WaitForHolderAsync(cluster, standby.Identity, knobs.Lease * 4, ct);
                takeovers.Add((acquiredAt - killedAt).TotalSeconds);
                if (lastRenewal is { } renewed)
                {
                    afterRenewal.Add((acquiredAt - renewed).TotalSeconds);
                }
                firstWrites.Add(await FirstWriteAfterAsync(standby, killedAt, ct));
                // Before it held the lease and while the leader lived. (With a 3 s lease a leader
                // stalled on a loaded machine can lose it before the kill; the standby then leads.)
                standbyWrites += standby.LeaderOnlyWritesBefore(acquiredAt < killedAt ? acquiredAt : killedAt);
                Assert.True(leader.Proxy.Writes.Any(w => !w.IsLease), $"seed {seed}: the audit saw no write by the leader {leader.Identity}; the measurement would prove nothing");

                leader = standby;
                if (i < failovers)
                {
                    standby = await StartStandbyAsync(cluster, $"op-{i + 1}", knobs, replicas, ct);
                }
            }

            await stop.CancelAsync();
            await driving;
            await driver.RestoreAsync(ct);
            var report = await ConvergenceCheck.WaitAsync(cluster, driver.DeletedUids, knobs.Grace, TimeSpan.FromSeconds(60), ct);
            await cluster.ObserveOutputsAsync(ChaosDriver.ProviderSecrets, ct);

            Assert.Equal(0, standbyWrites);
            Assert.True(report.Converged, $"seed {seed}:{Environment.NewLine}{string.Join(Environment.NewLine, report.Problems)}");
            Assert.True(
                takeovers.Max() <= knobs.Lease.TotalSeconds,
                $"seed {seed}: takeovers took {string.Join(", ", takeovers.Select(Seconds))} s after the kill; the lease is {knobs.Lease.TotalSeconds} s");

            await new ScenarioFigures(
                "operator-leader-failover",
                "Faults",
                "Two operator replicas with leader election: the leader SIGKILLed while VirtualKeys change",
                $"In {failovers} failovers the standby held the lease at most {Seconds(takeovers.Max())} s after the leader was killed (lease duration {knobs.Lease.TotalSeconds} s); "
                    + $"standbys made {standbyWrites} writes while a leader lived; all {report.LiveKeys} keys converged.",
                Passed: true,
                [
                    new("failovers", failovers),
                    new("lease duration (s)", knobs.Lease.TotalSeconds),
                    new("takeover: kill to lease acquired, max (s)", Math.Round(takeovers.Max(), 2)),
                    new("takeover: kill to lease acquired, each (s)", string.Join(", ", takeovers.Select(Seconds))),
                    new("takeover: the leader's last renewal to lease acquired, max (s)", afterRenewal.Count == 0 ? "none" : Math.Round(afterRenewal.Max(), 2)),
                    new("kill to the new leader's first write, max (s)", firstWrites.Count(double.IsFinite) == 0 ? "none" : Math.Round(firstWrites.Where(double.IsFinite).Max(), 2)),
                    new("writes by a standby while the leader lived", standbyWrites),
                    new("leader writes audited", replicas.Sum(r => r.Proxy.Writes.Count(w => !w.IsLease))),
                    new("changes during the run", driver.Operations),
                    new("seed", seed),
                ]).WriteAsync(ct);
        }
        finally
        {
            foreach (var replica in replicas)
            {
                await replica.Process.DisposeAsync();
                await replica.Proxy.DisposeAsync();
            }
        }
    }

    private static string Seconds(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    private static async Task<OperatorReplica> StartReplicaAsync(ChaosCluster cluster, string identity, OperatorKnobs knobs, List<OperatorReplica> replicas, CancellationToken ct)
    {
        var replica = await OperatorReplica.StartAsync(cluster, identity, knobs, ct);
        replicas.Add(replica);
        return replica;
    }

    /// <summary>Starts a replica and waits until it has seen the current leader, i.e. it is campaigning as a standby.</summary>
    private static async Task<OperatorReplica> StartStandbyAsync(ChaosCluster cluster, string identity, OperatorKnobs knobs, List<OperatorReplica> replicas, CancellationToken ct)
    {
        var replica = await StartReplicaAsync(cluster, identity, knobs, replicas, ct);
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(60);
        while (replica.Process.Events("VirtualKeys.Operator.Runtime.Leadership.LeaderElectionRunner", 3004).Count == 0)
        {
            if (replica.Process.HasExited || DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"Standby {identity} never reported the lease holder: {replica.Process.Tail()}");
            }

            await Task.Delay(50, ct);
        }

        return replica;
    }

    /// <summary>
    /// Polls the Lease until <paramref name="identity"/> holds it; returns its acquire time as the elector
    /// wrote it, and the last renewal of the holder before it (null when none was seen).
    /// </summary>
    private static async Task<(DateTimeOffset Acquired, DateTimeOffset? PreviousRenewal)> WaitForHolderAsync(ChaosCluster cluster, string identity, TimeSpan bound, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + bound;
        DateTimeOffset? previousRenewal = null;
        while (true)
        {
            try
            {
                var lease = await cluster.Client.CoordinationV1.ReadNamespacedLeaseAsync(LeaseName, ChaosCluster.Ns, cancellationToken: ct);
                if (lease.Spec?.HolderIdentity == identity)
                {
                    var acquired = lease.Spec.AcquireTime;
                    return (acquired is { } at ? Utc(at) : DateTimeOffset.UtcNow, previousRenewal);
                }

                if (lease.Spec?.RenewTime is { } renewed)
                {
                    previousRenewal = Utc(renewed);
                }
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"{identity} did not acquire the lease within {bound.TotalSeconds:0}s.");
            }

            await Task.Delay(10, ct);
        }
    }

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    /// <summary>Seconds from the kill to the new leader's first write (not its Lease), or +∞ when none came within a few seconds.</summary>
    private static async Task<double> FirstWriteAfterAsync(OperatorReplica replica, DateTimeOffset killedAt, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTimeOffset.UtcNow < deadline)
        {
            var first = replica.Proxy.Writes.Where(w => !w.IsLease && w.SentAt >= killedAt).Select(w => (DateTimeOffset?)w.SentAt).Min();
            if (first is { } at)
            {
                return (at - killedAt).TotalSeconds;
            }

            await Task.Delay(20, ct);
        }

        return double.PositiveInfinity;
    }
}
