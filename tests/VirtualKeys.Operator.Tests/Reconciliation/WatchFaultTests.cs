using VirtualKeys.Model;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Registry.Keys;
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

    [Fact]
    public async Task A_key_deleted_and_created_again_while_the_Secret_watch_is_down_gets_a_token_Secret()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "recreated");
        var op = await env.StartOperatorAsync(env.Settings(resync: TimeSpan.FromSeconds(2)));
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("warm");
        await env.WaitForReadyReasonAsync("warm", ConditionReasons.Reconciled);

        // The Secret informer goes blind: its watch and list answer 500.
        env.Server.Faults.FailNext(1000, 500, "secrets", "watch");
        env.Server.Faults.FailNext(1000, 500, "secrets", "list");
        env.Server.Faults.DropAllWatches();
        await env.CreateKeyAsync("a");
        await env.WaitForReadyReasonAsync("a", ConditionReasons.Reconciled);
        await env.DeleteKeyAsync("a");
        await Waits.UntilAsync(async () => await env.GetKeyAsync("a") is null, "key a is gone");
        await Waits.UntilAsync(async () => await env.GetSecretAsync("a-token") is null, "a-token was garbage-collected");
        env.Server.Faults.ExpireWatchHistory();
        env.Server.Faults.Reset();

        // Created again under the same name: a new object, which must get a token Secret of its own.
        var again = await env.CreateKeyAsync("a");
        var ready = await env.WaitForReadyReasonAsync("a", ConditionReasons.Reconciled);
        var secret = await env.GetSecretAsync("a-token");

        Assert.NotNull(secret);
        Assert.Contains(secret.Metadata.OwnerReferences, o => o.Uid == again.Metadata.Uid);
        var token = await VirtualKeyLifecycleTests.TokenAsync(env, "a-token");
        Assert.Equal(TokenVerificationStatus.Accepted, (await op.App.Registry.VerifyTokenAsync(token, Ct)).Status);
        Assert.Equal(again.Metadata.Uid, ready.Metadata.Uid);
    }
}
