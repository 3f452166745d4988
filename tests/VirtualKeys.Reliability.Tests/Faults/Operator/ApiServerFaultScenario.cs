using System.Globalization;
using System.Net;
using k8s.Autorest;
using VirtualKeys.Model;
using VirtualKeys.Operator.Reconciliation;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>
/// Issue #8: while VirtualKeys keep changing, the API server drops every watch, forgets its watch
/// history (410 Gone on resume) and answers 500 to lists, watches and writes for a while; the
/// operator (a real process) still brings every key to its last spec.
/// </summary>
public sealed class ApiServerFaultScenario(PostgresFixture postgres)
{
    private const string ProviderSecret = "provider-a";

    [Fact]
    public async Task Dropped_watches_expired_history_and_500s_lose_no_update()
    {
        var ct = TestContext.Current.CancellationToken;
        var seed = ScenarioSeed.Next("operator-api-faults");
        var random = new Random(seed);
        var faultRandom = new Random(unchecked(seed * 31 + 7));
        var keyCount = ReliabilityRun.Pick(4, 10);
        var duration = ReliabilityRun.Pick(TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(90));
        var knobs = new OperatorKnobs();
        await using var cluster = await ChaosCluster.StartAsync(postgres, "apifaults", ct);
        await cluster.PutProviderSecretAsync(ProviderSecret, "sk-api-faults-" + Guid.NewGuid().ToString("N"), ct);
        var names = Enumerable.Range(0, keyCount).Select(i => "key-" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        foreach (var name in names)
        {
            await cluster.CreateKeyAsync(ChaosCluster.NewKey(name, ProviderSecret, 1), ct);
        }

        var op = cluster.StartOperator("op-api", knobs);
        await op.WaitUntilReadyAsync(TimeSpan.FromSeconds(60), ct);
        var initial = await ConvergenceCheck.WaitAsync(cluster, [], knobs.Grace, TimeSpan.FromSeconds(60), ct);
        Assert.True(initial.Converged, string.Join(Environment.NewLine, initial.Problems));

        var faults = new FaultTally();
        var last = new Dictionary<string, int>(StringComparer.Ordinal);
        var updates = 0;
        var clientRetries = 0;
        var deadline = DateTimeOffset.UtcNow + duration;
        var injecting = Task.Run(() => InjectFaultsAsync(cluster, faultRandom, deadline, faults, ct), ct);
        while (DateTimeOffset.UtcNow < deadline)
        {
            var name = names[random.Next(names.Length)];
            var rpm = ++updates + 1;
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await cluster.PatchKeyAsync(name, $$$"""{"spec":{"limits":{"requestsPerMinute":{{{rpm}}} } } }""", ct);
                    break;
                }
                catch (HttpOperationException e) when ((int)e.Response.StatusCode >= 500 && attempt < 50)
                {
                    // The injected 500s hit the test's own writes too; a user would retry.
                    clientRetries++;
                    await Task.Delay(20, ct);
                }
            }

            last[name] = rpm;
            await Task.Delay(random.Next(10, 80), ct);
        }

        await injecting;
        cluster.Server.Faults.Reset();
        var faultsEnded = DateTimeOffset.UtcNow;
        // Bounded by the operator's own backoffs: after a long run of failures the informers and the
        // work queue wait up to 30 s each before trying again (a full run measured about 47 s).
        var lost = await UpdatesNotReflectedAsync(cluster, last, ReliabilityRun.Pick(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120)), ct);
        var converge = DateTimeOffset.UtcNow - faultsEnded;
        var report = await ConvergenceCheck.RunAsync(cluster, [], knobs.Grace, ct);
        await cluster.ObserveOutputsAsync([ProviderSecret], ct);

        Assert.True(lost.Count == 0, $"seed {seed}: updates not reflected {converge.TotalSeconds:0.0}s after the faults ended:{Environment.NewLine}{string.Join(Environment.NewLine, lost)}");
        Assert.True(report.Converged, $"seed {seed}:{Environment.NewLine}{string.Join(Environment.NewLine, report.Problems)}");
        Assert.False(op.HasExited, $"seed {seed}: the operator exited: {op.Tail()}");
        Assert.True(faults.Total > 0);

        var seconds = Math.Round(converge.TotalSeconds, 1);
        await new ScenarioFigures(
            "operator-api-faults",
            "Faults",
            "API server drops every watch, expires its history (410) and answers 500s while VirtualKeys change",
            $"{faults.Total} injected faults during {updates} spec updates over {duration.TotalSeconds:0} s: {lost.Count} updates lost; every key reached its last spec "
                + $"{seconds.ToString(CultureInfo.InvariantCulture)} s after the faults stopped, without a periodic resync.",
            Passed: true,
            [
                new("faults injected", faults.Total),
                new("watch drops / history expiries (410) / 500 bursts on list, watch, writes / 500 storms", $"{faults.Drops} / {faults.Expiries} / {faults.Bursts} / {faults.Storms}"),
                new("500s queued (a storm queues more than it serves)", faults.FailuresQueued),
                new("spec updates", updates),
                new("keys", keyCount),
                new("test client retries after a 500", clientRetries),
                new("updates lost", lost.Count),
                new("time to converge after the faults (s)", seconds),
                new("seed", seed),
            ]).WriteAsync(ct);
    }

    /// <summary>Keys whose status or registry row does not show the last update once <paramref name="bound"/> has passed.</summary>
    private static async Task<IReadOnlyList<string>> UpdatesNotReflectedAsync(ChaosCluster cluster, Dictionary<string, int> last, TimeSpan bound, CancellationToken ct)
    {
        var until = DateTimeOffset.UtcNow + bound;
        while (true)
        {
            var missing = new List<string>();
            foreach (var key in await cluster.ListKeysAsync(ct))
            {
                if (!last.TryGetValue(key.Metadata.Name, out var rpm))
                {
                    continue;
                }

                var ready = key.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready);
                var record = await cluster.Registry.GetAsync(ChaosCluster.Ns, key.Metadata.Name, includeCredentials: false, ct);
                if (key.Spec.Limits?.RequestsPerMinute != rpm)
                {
                    missing.Add($"{key.Metadata.Name}: the API server holds requestsPerMinute {key.Spec.Limits?.RequestsPerMinute}, the test wrote {rpm}");
                }
                else if (key.Status?.ObservedGeneration != key.Metadata.Generation || ready?.Status != "True")
                {
                    missing.Add($"{key.Metadata.Name}: status observedGeneration {key.Status?.ObservedGeneration} of {key.Metadata.Generation}, Ready={ready?.Status}");
                }
                else if (record is null || record.Generation != key.Metadata.Generation || record.Config.Limits.RequestsPerMinute != rpm
                    || record.SpecFingerprint != RegistryMapping.SpecFingerprint(key))
                {
                    missing.Add($"{key.Metadata.Name}: registry row at generation {record?.Generation} with requestsPerMinute {record?.Config.Limits.RequestsPerMinute}, expected {key.Metadata.Generation} and {rpm}");
                }
            }

            if (missing.Count == 0 || DateTimeOffset.UtcNow > until)
            {
                return missing;
            }

            await Task.Delay(100, ct);
        }
    }

    private static async Task InjectFaultsAsync(ChaosCluster cluster, Random random, DateTimeOffset deadline, FaultTally tally, CancellationToken ct)
    {
        var faults = cluster.Server.Faults;
        string[] resources = ["virtualkeys", "secrets"];
        while (DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(random.Next(300, 1_200), ct);
            switch (random.Next(5))
            {
                case 0:
                    faults.DropAllWatches();
                    tally.Drops++;
                    break;
                case 1:
                    // Compaction: resuming from any remembered resourceVersion answers 410 Gone.
                    faults.ExpireWatchHistory();
                    faults.DropAllWatches();
                    tally.Expiries++;
                    break;
                case 2:
                    // The relist or re-watch after the drop fails a few times first.
                    var count = random.Next(1, 6);
                    faults.FailNext(count, 500, resources[random.Next(resources.Length)], random.Next(2) == 0 ? "list" : "watch");
                    faults.DropAllWatches();
                    tally.Bursts++;
                    tally.FailuresQueued += count;
                    break;
                case 3:
                    var writes = random.Next(1, 6);
                    faults.FailNext(writes, 500, "virtualkeys", random.Next(2) == 0 ? "patch" : "update");
                    tally.Bursts++;
                    tally.FailuresQueued += writes;
                    break;
                default:
                    // Every request fails for a while (an overloaded etcd): about a second of 500s.
                    var stormEnds = DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(random.Next(500, 1_500));
                    while (DateTimeOffset.UtcNow < stormEnds)
                    {
                        faults.FailNext(3, 500);
                        tally.FailuresQueued += 3;
                        await Task.Delay(100, ct);
                    }

                    tally.Storms++;
                    break;
            }
        }
    }

    private sealed class FaultTally
    {
        public int Drops { get; set; }

        public int Expiries { get; set; }

        public int Bursts { get; set; }

        public int Storms { get; set; }

        public int FailuresQueued { get; set; }

        public int Total => Drops + Expiries + Bursts + Storms;
    }
}
