using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Prometheus;
using VirtualKeys.Model;
using VirtualKeys.Operator.Api;
using VirtualKeys.Operator.Events;
using VirtualKeys.Operator.Observability;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Operator.Usage;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Usage;

/// <summary>The usage syncer on a fake clock: per-key interval and the budget period boundary.</summary>
public sealed class UsageSyncerClockTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UsageIsWrittenAtMostOncePerInterval_AndResetsAtThePeriodBoundary()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 31, 23, 0, 0, TimeSpan.Zero));
        await using var env = await OperatorEnvironment.StartAsync(postgres, "usageclock");
        await using var registry = await VirtualKeyRegistry.OpenAsync(env.ConnectionString, env.KekPath, time, null, Ct);
        var key = await RegisterAsync(env, registry, "clocked");
        var cache = new ListCache<VirtualKey>();
        var api = new VirtualKeyApi(env.Client, NoExternalCallObserver.Instance);
        var syncer = new UsageSyncer(
            cache,
            registry,
            api,
            new EventRecorder(env.Client, time, NoExternalCallObserver.Instance, NullLogger<EventRecorder>.Instance, "test"),
            new OperatorMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())),
            NoExternalCallObserver.Instance,
            Microsoft.Extensions.Options.Options.Create(new UsageSyncerOptions { Interval = TimeSpan.FromSeconds(15), Qps = 1000 }),
            time,
            NullLogger<UsageSyncer>.Instance);

        await registry.RecordUsageAsync([new UsageEvent("a", key.Status!.KeyId!, time.GetUtcNow(), "m", "openai", 1, 1, 1m)], Ct);
        cache.Set([(await env.GetKeyAsync("clocked"))!]);
        Assert.Equal(1, await syncer.SyncOnceAsync(Ct));
        var march = (await env.GetKeyAsync("clocked"))!;
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), march.Status!.Usage!.PeriodStart);
        Assert.Equal(1, march.Status.Usage.Requests);

        time.Advance(TimeSpan.FromSeconds(1));
        await registry.RecordUsageAsync([new UsageEvent("b", key.Status.KeyId!, time.GetUtcNow(), "m", "openai", 1, 1, 1m)], Ct);
        cache.Set([march]);
        Assert.Equal(0, await syncer.SyncOnceAsync(Ct));

        time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(1, await syncer.SyncOnceAsync(Ct));
        var later = (await env.GetKeyAsync("clocked"))!;
        Assert.Equal(2, later.Status!.Usage!.Requests);

        time.Advance(TimeSpan.FromHours(1));
        cache.Set([later]);
        Assert.Equal(1, await syncer.SyncOnceAsync(Ct));
        var april = (await env.GetKeyAsync("clocked"))!;
        Assert.Equal(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero), april.Status!.Usage!.PeriodStart);
        Assert.Equal(0, april.Status.Usage.Requests);
        Assert.Equal("0.00", april.Status.Usage.CostUsd);

        cache.Set([april]);
        time.Advance(TimeSpan.FromMinutes(1));
        var n = await syncer.SyncOnceAsync(Ct);
        var after = (await env.GetKeyAsync("clocked"))!;
        Assert.Equal(KubernetesJson.Serialize(april.Status), KubernetesJson.Serialize(after.Status));
        Assert.Equal(0, n);
    }

    [Fact]
    public async Task Writes_AreSpacedByTheGlobalQpsCap()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 12, 0, 0, TimeSpan.Zero));
        await using var env = await OperatorEnvironment.StartAsync(postgres, "usageqps");
        await using var registry = await VirtualKeyRegistry.OpenAsync(env.ConnectionString, env.KekPath, time, null, Ct);
        var calls = new CallLog();
        var cache = new ListCache<VirtualKey>();
        var names = new[] { "q1", "q2", "q3" };
        foreach (var name in names)
        {
            var key = await RegisterAsync(env, registry, name);
            await registry.RecordUsageAsync([new UsageEvent("r-" + name, key.Status!.KeyId!, time.GetUtcNow(), "m", "openai", 1, 1, 0.5m)], Ct);
        }

        cache.Set(await Task.WhenAll(names.Select(async n => (await env.GetKeyAsync(n))!)));
        var syncer = new UsageSyncer(
            cache,
            registry,
            new VirtualKeyApi(env.Client, calls),
            new EventRecorder(env.Client, time, NoExternalCallObserver.Instance, NullLogger<EventRecorder>.Instance, "test"),
            new OperatorMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())),
            calls,
            Microsoft.Extensions.Options.Options.Create(new UsageSyncerOptions { Interval = TimeSpan.FromSeconds(15), Qps = 1 }),
            time,
            NullLogger<UsageSyncer>.Instance);
        int Patches() => calls.Count("api:virtualkeys/status:patch");

        var round = syncer.SyncOnceAsync(Ct);
        await Waits.UntilAsync(() => Patches() == 1, "the first write goes out at once");
        await Task.Delay(200, Ct);
        Assert.Equal(1, Patches());

        time.Advance(TimeSpan.FromSeconds(1));
        await Waits.UntilAsync(() => Patches() == 2, "the second write after one second");
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(3, await round.WaitAsync(Waits.Bound, Ct));
    }

    private static async Task<VirtualKey> RegisterAsync(OperatorEnvironment env, VirtualKeyRegistry registry, string name)
    {
        var created = await env.CreateKeyAsync(name);
        var result = await registry.UpsertAsync(
            new VirtualKeyUpsert(
                new VirtualKeyIdentity(OperatorEnvironment.Ns, name, created.Metadata.Uid),
                1,
                "spec",
                new VirtualKeyConfig { Providers = [new ProviderConfig("openai", VirtualKeys.Registry.Keys.ProviderType.OpenAI)] },
                [new ProviderCredential("openai", "sk-test")]),
            Ct);
        created.Status = new VirtualKeyStatus
        {
            KeyId = result.KeyId,
            Conditions = [new V1Condition { Type = ConditionTypes.Ready, Status = "True", Reason = ConditionReasons.Reconciled, Message = "ok", LastTransitionTime = DateTime.UtcNow }],
        };
        return await env.Client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync<VirtualKey>(
            created, WellKnown.Group, WellKnown.Version, OperatorEnvironment.Ns, WellKnown.Plural, name, cancellationToken: Ct);
    }
}
