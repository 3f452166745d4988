using VirtualKeys.Model;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Reconciliation;

public sealed class WatchFaultTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DroppedWatches_LoseNoUpdate()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "dropped");
        await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("a");
        var before = await env.WaitForReadyReasonAsync("a", ConditionReasons.Reconciled);

        env.Server.Faults.DropAllWatches();
        await env.UpdateKeyAsync("a", k => k.Spec.Limits = new RateLimits { RequestsPerMinute = 3 });
        await env.CreateKeyAsync("b");

        await env.WaitForReadyReasonAsync("a", ConditionReasons.Reconciled, k => k.Status!.ObservedGeneration > before.Status!.ObservedGeneration);
        await env.WaitForReadyReasonAsync("b", ConditionReasons.Reconciled);
    }

    [Fact]
    public async Task ExpiredHistory_ForcesARelist_AndLosesNoUpdate()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "gone410");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-old");
        await env.CreateKeyAsync("a");
        await env.WaitForReadyReasonAsync("a", ConditionReasons.Reconciled);

        env.Server.Faults.ExpireWatchHistory();
        env.Server.Faults.DropAllWatches();
        await env.UpdateProviderSecretAsync("sk-new");
        await env.CreateKeyAsync("c");

        await env.WaitForReadyReasonAsync("c", ConditionReasons.Reconciled);
        await Waits.UntilAsync(
            async () => (await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "a", includeCredentials: true, Ct))!.Credentials!["openai"].Secret == "sk-new",
            "the provider Secret change reached the registry");
    }
}
