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

/// <summary>
/// The usage syncer meets a spec the reconciler has not looked at yet (its round ran first): the
/// budget in that spec moves the usage fields, never Ready, which only the reconciler judges.
/// </summary>
public sealed class UsageSyncerGenerationTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ARaisedBudget_InASpecThatDoesNotValidate_DoesNotMakeAnExhaustedKeyReady()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 12, 0, 0, TimeSpan.Zero));
        await using var env = await OperatorEnvironment.StartAsync(postgres, "usagegen");
        await using var registry = await VirtualKeyRegistry.OpenAsync(env.ConnectionString, env.KekPath, time, null, Ct);
        var (cache, syncer) = Syncer(env, registry, time);
        var key = await RegisterAsync(env, registry, "capped", "1");
        await registry.RecordUsageAsync([new UsageEvent("a", key.Status!.KeyId!, time.GetUtcNow(), "m", "openai", 1, 1, 1m)], Ct);
        cache.Set([key]);
        Assert.Equal(1, await syncer.SyncOnceAsync(Ct));
        Assert.Equal(ConditionReasons.BudgetExhausted, OperatorEnvironment.ReadyOf(await env.GetKeyAsync("capped"))!.Reason);

        // One apply raises the budget and breaks the spec: the default model is now served by no provider.
        var edited = await env.UpdateKeyAsync("capped", k =>
        {
            k.Spec.Budget!.MaxCostUsd = "10";
            k.Spec.Providers[0].Models = ["gpt-4o"];
        });
        time.Advance(Interval);
        cache.Set([edited]);
        Assert.Equal(1, await syncer.SyncOnceAsync(Ct));

        var synced = (await env.GetKeyAsync("capped"))!;
        Assert.Equal("9.00", synced.Status!.BudgetRemainingUsd);
        var ready = OperatorEnvironment.ReadyOf(synced)!;
        Assert.Equal(("False", ConditionReasons.BudgetExhausted, 1L), (ready.Status, ready.Reason, ready.ObservedGeneration ?? -1));
        Assert.Equal(1L, synced.Status.ObservedGeneration);
    }

    [Fact]
    public async Task ALoweredBudget_InASpecThatDoesNotValidate_DoesNotTurnReadyToBudgetExhausted()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 12, 0, 0, TimeSpan.Zero));
        await using var env = await OperatorEnvironment.StartAsync(postgres, "usagegenlow");
        await using var registry = await VirtualKeyRegistry.OpenAsync(env.ConnectionString, env.KekPath, time, null, Ct);
        var (cache, syncer) = Syncer(env, registry, time);
        var key = await RegisterAsync(env, registry, "roomy", "10");
        await registry.RecordUsageAsync([new UsageEvent("a", key.Status!.KeyId!, time.GetUtcNow(), "m", "openai", 1, 1, 2m)], Ct);

        // The registry still serves the key with the budget of 10 it registered: the new spec is not registered.
        var edited = await env.UpdateKeyAsync("roomy", k =>
        {
            k.Spec.Budget!.MaxCostUsd = "1";
            k.Spec.Providers[0].Models = ["gpt-4o"];
        });
        cache.Set([edited]);
        Assert.Equal(1, await syncer.SyncOnceAsync(Ct));

        var synced = (await env.GetKeyAsync("roomy"))!;
        Assert.Equal("2.00", synced.Status!.Usage!.CostUsd);
        var ready = OperatorEnvironment.ReadyOf(synced)!;
        Assert.Equal(("True", ConditionReasons.Reconciled, 1L), (ready.Status, ready.Reason, ready.ObservedGeneration ?? -1));
        Assert.Equal(1L, synced.Status.ObservedGeneration);
        Assert.DoesNotContain(await env.EventsForAsync("roomy"), e => e.Reason == ConditionReasons.BudgetExhausted);
    }

    internal static (ListCache<VirtualKey> Cache, UsageSyncer Syncer) Syncer(OperatorEnvironment env, VirtualKeyRegistry registry, TimeProvider time)
    {
        var cache = new ListCache<VirtualKey>();
        var syncer = new UsageSyncer(
            cache,
            registry,
            new VirtualKeyApi(env.Client, NoExternalCallObserver.Instance),
            new EventRecorder(env.Client, time, NoExternalCallObserver.Instance, NullLogger<EventRecorder>.Instance, "test"),
            new OperatorMetrics(Metrics.WithCustomRegistry(Metrics.NewCustomRegistry())),
            NoExternalCallObserver.Instance,
            Microsoft.Extensions.Options.Options.Create(new UsageSyncerOptions { Interval = Interval, Qps = 1000 }),
            time,
            NullLogger<UsageSyncer>.Instance);
        return (cache, syncer);
    }

    /// <summary>A key with a budget (monthly unless told), registered and Ready as the reconciler leaves it after its first generation.</summary>
    internal static async Task<VirtualKey> RegisterAsync(OperatorEnvironment env, VirtualKeyRegistry registry, string name, string maxCostUsd, VirtualKeys.Model.BudgetPeriod period = VirtualKeys.Model.BudgetPeriod.Monthly)
    {
        var created = await env.CreateKeyAsync(name, spec => spec.Budget = new BudgetSpec { MaxCostUsd = maxCostUsd, Period = period });
        var result = await registry.UpsertAsync(
            new VirtualKeyUpsert(
                new VirtualKeyIdentity(OperatorEnvironment.Ns, name, created.Metadata.Uid),
                created.Metadata.Generation ?? 0,
                "spec",
                new VirtualKeyConfig { Providers = [new ProviderConfig("openai", VirtualKeys.Registry.Keys.ProviderType.OpenAI)] },
                [new ProviderCredential("openai", "sk-test")]),
            Ct);
        created.Status = new VirtualKeyStatus
        {
            ObservedGeneration = created.Metadata.Generation,
            KeyId = result.KeyId,
            Conditions =
            [
                new V1Condition
                {
                    Type = ConditionTypes.Ready,
                    Status = "True",
                    Reason = ConditionReasons.Reconciled,
                    Message = "ok",
                    ObservedGeneration = created.Metadata.Generation,
                    LastTransitionTime = DateTime.UtcNow,
                },
            ],
        };
        return await env.Client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync<VirtualKey>(
            created, WellKnown.Group, WellKnown.Version, OperatorEnvironment.Ns, WellKnown.Plural, name, cancellationToken: Ct);
    }
}
