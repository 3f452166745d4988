using System.Diagnostics;
using System.Globalization;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>
/// PostgreSQL is killed with SIGKILL (and restarted) while a sidecar process serves a steady load. On a
/// private cluster, so the kill disturbs no other test.
/// </summary>
public sealed class PostgresKilledUnderLoadTests : IAsyncLifetime
{
    private const string Model = "gpt-4o-mini";
    private const int RequestsPerMinute = 20;

    /// <summary>The default with a registry: limits are leased from PostgreSQL, and admitted from this replica's share while it is away.</summary>
    private const string QuotaMode = "Shared";

    private PostgresCluster? _cluster;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _cluster = await PostgresCluster.StartNewAsync(cancellationToken: Cancel);

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task Requests_are_answered_from_the_snapshot_during_the_outage_and_afterwards_the_usage_recorded_equals_the_usage_admitted_request_for_request()
    {
        var cluster = _cluster!;
        var warmup = ReliabilityRun.Pick(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        var outage = ReliabilityRun.Pick(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));
        var afterwards = ReliabilityRun.Pick(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));

        await using var rig = await SidecarRig.StartAsync(cluster.GetConnectionString(), Cancel);
        var resolveKey = await rig.AddKeyAsync("resolve-load", Model, null, null, Cancel);
        var proxyKey = await rig.AddKeyAsync("proxy-load", Model, null, null, Cancel);
        var limitedKey = await rig.AddKeyAsync("limited", Model, new KeyLimits(RequestsPerMinute: RequestsPerMinute), null, Cancel);
        var sidecar = await rig.StartSidecarAsync("postgres-killed-under-load", new Dictionary<string, string> { ["Quota__Mode"] = QuotaMode }, Cancel);
        using var client = new HttpClient { BaseAddress = sidecar.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

        var load = new SteadyLoad(client, resolveKey.Token, proxyKey.Token, Model);
        load.Start(workersOfEachKind: 2);
        await Task.Delay(warmup, Cancel);

        load.Phase = LoadPhase.Outage;
        var outageClock = Stopwatch.StartNew();
        await cluster.KillAsync(Cancel);
        var limited = await LimitedBurstAsync(client, limitedKey.Token);
        using (var readiness = await client.GetAsync("/readyz", Cancel))
        {
            SecretLedger.Observe("readyz during the outage", await readiness.Content.ReadAsStringAsync(Cancel));
            Assert.Equal(200, (int)readiness.StatusCode);
        }

        var rest = outage - outageClock.Elapsed;
        if (rest > TimeSpan.Zero)
        {
            await Task.Delay(rest, Cancel);
        }

        await cluster.StartAsync(Cancel);
        var outageLasted = outageClock.Elapsed;
        load.Phase = LoadPhase.After;
        var outageIds = load.Reported.Where(r => r.Phase == LoadPhase.Outage).Select(r => r.DecisionId).ToHashSet(StringComparer.Ordinal);
        var outageWritten = rig.WaitForEventsAsync(
            resolveKey.KeyId, events => outageIds.IsSubsetOf(events.Select(e => e.RequestId)), TimeSpan.FromSeconds(90), Cancel);
        await Task.Delay(afterwards, Cancel);
        await load.StopAsync();
        var outageCatchUp = await outageWritten;

        // Client side: what was admitted and answered.
        var reported = load.Reported.ToList();
        var proxied = load.Proxied.ToList();
        var failed = load.Failed.ToList();
        var proxyAnswered = proxied.Where(p => p.Outcome.Answered).Select(p => p.Outcome).ToList();
        var duringOutage = reported.Count(r => r.Phase == LoadPhase.Outage) + proxied.Count(p => p.Phase == LoadPhase.Outage) + failed.Count(f => f.Phase == LoadPhase.Outage);
        var failedDuringOutage = proxied.Count(p => p.Phase == LoadPhase.Outage && !p.Outcome.Answered) + failed.Count(f => f.Phase == LoadPhase.Outage);

        // Registry side, once everything the client saw admitted is there.
        var resolveWait = await rig.WaitForEventsAsync(resolveKey.KeyId, e => e.Count >= reported.Count, TimeSpan.FromSeconds(60), Cancel);
        var proxyWait = await rig.WaitForEventsAsync(proxyKey.KeyId, e => e.Count >= proxyAnswered.Count, TimeSpan.FromSeconds(60), Cancel);
        var limitedWait = await rig.WaitForEventsAsync(limitedKey.KeyId, e => e.Count >= limited.Count, TimeSpan.FromSeconds(60), Cancel);
        var resolveEvents = await rig.EventsAsync(resolveKey.KeyId, Cancel);
        var proxyEvents = await rig.EventsAsync(proxyKey.KeyId, Cancel);
        var limitedEvents = await rig.EventsAsync(limitedKey.KeyId, Cancel);
        var resolveTotal = await rig.TotalAsync(resolveKey.KeyId, Cancel);
        var proxyTotal = await rig.TotalAsync(proxyKey.KeyId, Cancel);

        using (var metrics = await client.GetAsync("/metrics", Cancel))
        {
            SecretLedger.Observe("postgres-killed-under-load: /metrics", await metrics.Content.ReadAsStringAsync(Cancel));
        }

        sidecar.Terminate();
        var exitCode = await sidecar.WaitForExitAsync(TimeSpan.FromSeconds(45), Cancel);
        await rig.ObserveRegistryTablesAsync("postgres-killed-under-load", Cancel);

        Assert.Empty(failed);
        Assert.All(proxied, p => Assert.Equal(200, p.Outcome.Status));
        Assert.NotNull(outageCatchUp);
        Assert.NotNull(resolveWait);
        Assert.NotNull(proxyWait);
        Assert.NotNull(limitedWait);

        // Request for request: every decision id the client saw recorded is an event with its tokens and cost, and nothing else is.
        Assert.Equal(
            reported.OrderBy(r => r.DecisionId, StringComparer.Ordinal).Select(r => (r.DecisionId, r.InputTokens, r.OutputTokens, r.CostUsd)),
            resolveEvents.OrderBy(e => e.RequestId, StringComparer.Ordinal).Select(e => (e.RequestId, e.InputTokens, e.OutputTokens, e.CostUsd)));
        Assert.Equal(
            proxyAnswered.Select(o => (o.InputTokens, o.OutputTokens)).Order(),
            proxyEvents.Where(e => e.Served).Select(e => (e.InputTokens, e.OutputTokens)).Order());
        Assert.DoesNotContain(proxyEvents, e => !e.Served);
        Assert.Equal(
            (reported.Count, reported.Sum(r => r.InputTokens), reported.Sum(r => r.OutputTokens), reported.Sum(r => r.CostUsd)),
            (resolveTotal.Requests, resolveTotal.InputTokens, resolveTotal.OutputTokens, resolveTotal.CostUsd));
        Assert.Equal(
            (proxyAnswered.Count, proxyAnswered.Sum(o => o.InputTokens), proxyAnswered.Sum(o => o.OutputTokens), proxyEvents.Sum(e => e.CostUsd)),
            (proxyTotal.Requests, proxyTotal.InputTokens, proxyTotal.OutputTokens, proxyTotal.CostUsd));

        // The limited key during the outage: never more than its limit, and every refusal recorded as one.
        var limitedAdmitted = limited.Count(o => o.Answered);
        var limitedRefused = limited.Count(o => o.Status == 429);
        Assert.InRange(limitedAdmitted, 1, RequestsPerMinute);
        Assert.Equal(limited.Count, limitedAdmitted + limitedRefused);
        Assert.Equal((limitedAdmitted, limitedRefused), (limitedEvents.Count(e => e.Served), limitedEvents.Count(e => !e.Served)));
        Assert.Equal(0, exitCode);

        var admitted = reported.Count + proxyAnswered.Count + limitedAdmitted;
        var recorded = resolveEvents.Count + proxyEvents.Count + limitedEvents.Count(e => e.Served);
        await new ScenarioFigures(
            "sidecar-postgres-killed-under-load",
            "Faults",
            "PostgreSQL killed (SIGKILL) and restarted while the sidecar serves a steady load",
            string.Create(
                CultureInfo.InvariantCulture,
                $"{duringOutage - failedDuringOutage} of {duringOutage} requests during the {outageLasted.TotalSeconds:0.0} s outage were answered from the snapshot; afterwards the registry recorded {recorded} requests for {admitted} admitted, equal request for request (ids, tokens, cost), and the limited key admitted {limitedAdmitted} of its {RequestsPerMinute} per minute during the outage"),
            Passed: true,
            [
                new("outage (s)", Math.Round(outageLasted.TotalSeconds, 1)),
                new("requests during outage", duringOutage),
                new("answered during outage", duringOutage - failedDuringOutage),
                new("failed during outage", failedDuringOutage),
                new("requests in all", reported.Count + proxied.Count + failed.Count + limited.Count),
                new("usage recorded vs admitted", $"{recorded} / {admitted}"),
                new("compared by request id (resolve + usage)", reported.Count),
                new("compared by tokens (proxy)", proxyAnswered.Count),
                new("outage usage written after restart (s)", Math.Round(outageCatchUp!.Value.TotalSeconds, 1)),
                new("limited key during outage: admitted / RPM limit", $"{limitedAdmitted} / {RequestsPerMinute}"),
                new("limited key during outage: refused (rate_limit_rpm)", limitedRefused),
                new("readiness during outage", "200"),
                new("quota mode (Quota__Mode)", QuotaMode),
            ]).WriteAsync(Cancel);
    }

    /// <summary>
    /// Twice the key's per-minute limit at once, inside one UTC minute window (waiting for the next
    /// one when too little of this one is left).
    /// </summary>
    private static async Task<IReadOnlyList<ChatOutcome>> LimitedBurstAsync(HttpClient client, string token)
    {
        var now = DateTimeOffset.UtcNow;
        var left = TimeSpan.FromMinutes(1) - TimeSpan.FromTicks(now.UtcTicks % TimeSpan.TicksPerMinute);
        if (left < TimeSpan.FromSeconds(3))
        {
            await Task.Delay(left + TimeSpan.FromMilliseconds(200), Cancel);
        }

        var burst = Enumerable.Range(1, RequestsPerMinute * 2)
            .Select(i => ChatCall.SendAsync(client, token, ChatCall.Body(Model, i), "limited burst during the outage", Cancel));
        return await Task.WhenAll(burst);
    }
}
