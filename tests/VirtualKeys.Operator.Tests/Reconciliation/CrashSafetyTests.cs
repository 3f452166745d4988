using System.Security.Cryptography;
using System.Text;
using k8s;
using VirtualKeys.Model;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Reconciliation;

/// <summary>
/// The operator "dies" before its Nth call to the API server or the registry (every later call
/// fails too), and a fresh instance then converges: exactly one live token per key, the one in
/// its Secret, and nothing orphaned.
/// </summary>
public sealed class CrashSafetyTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<int> CrashPoints => [1, 2, 3, 4, 5, 6, 7];

    [Theory]
    [MemberData(nameof(CrashPoints))]
    public async Task CrashDuringCreation_ConvergesWithOneToken(int crashAt)
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "crashcreate");
        await env.CreateProviderSecretAsync("sk-1");
        var crashing = await env.StartOperatorAsync(Quiet(env), new CallLog(crashAt));
        await env.CreateKeyAsync("fragile");
        await Waits.UntilAsync(
            async () => crashing.Calls!.Crashed || OperatorEnvironment.ReadyOf(await env.GetKeyAsync("fragile"))?.Reason == ConditionReasons.Reconciled,
            "the operator crashed or finished");
        await env.StopAsync(crashing);

        var restarted = await env.StartOperatorAsync(Quiet(env));
        await env.WaitForReadyReasonAsync("fragile", ConditionReasons.Reconciled);

        var token = await VirtualKeyLifecycleTests.TokenAsync(env, "fragile-token");
        var record = await restarted.App.Registry.GetAsync(OperatorEnvironment.Ns, "fragile", includeCredentials: false, Ct);
        var live = Assert.Single(record!.Tokens, t => t.NotAfter is null || t.NotAfter > DateTimeOffset.UtcNow);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(token)), live.Hash);
        Assert.Single(record.Tokens);
        Assert.Single((await env.Client.CoreV1.ListNamespacedSecretAsync(OperatorEnvironment.Ns, cancellationToken: Ct)).Items, s => s.Metadata.Name.StartsWith("fragile", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(CrashPoints))]
    public async Task CrashDuringRotation_ConvergesWithTheNewTokenAndTheOldOneRetiring(int crashAt)
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "crashrotate");
        await env.CreateProviderSecretAsync("sk-1");
        var first = await env.StartOperatorAsync(Quiet(env));
        await env.CreateKeyAsync("rotor");
        await env.WaitForReadyReasonAsync("rotor", ConditionReasons.Reconciled);
        var oldToken = await VirtualKeyLifecycleTests.TokenAsync(env, "rotor-token");
        await env.StopAsync(first);

        await env.UpdateKeyAsync("rotor", k => k.Metadata.Annotations = new Dictionary<string, string> { [WellKnown.RotateTokenAnnotation] = "r1" });
        var crashing = await env.StartOperatorAsync(Quiet(env), new CallLog(crashAt));
        await Waits.UntilAsync(
            async () => crashing.Calls!.Crashed || await VirtualKeyLifecycleTests.TokenAsync(env, "rotor-token") != oldToken,
            "the operator crashed or rotated");
        await env.StopAsync(crashing);

        var restarted = await env.StartOperatorAsync(Quiet(env));
        var newToken = await Waits.UntilAsync(
            async () => await VirtualKeyLifecycleTests.TokenAsync(env, "rotor-token"),
            t => t != oldToken,
            _ => "the token was rotated");
        await Waits.UntilAsync(
            async () => (await restarted.App.Registry.VerifyTokenAsync(newToken, Ct)).Status == TokenVerificationStatus.Accepted,
            "the new token is registered");

        var record = await restarted.App.Registry.GetAsync(OperatorEnvironment.Ns, "rotor", includeCredentials: false, Ct);
        Assert.Equal(2, record!.Tokens.Count);
        Assert.Single(record.Tokens, t => t.NotAfter is null);
        Assert.Single(record.Tokens, t => t.NotAfter is not null);
        Assert.Equal("r1", (await env.GetSecretAsync("rotor-token"))!.Metadata.Annotations!["aigateway.dev/rotate-token-handled"]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task CrashDuringDeletion_ConvergesToATombstoneAndNoObject(int crashAt)
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "crashdelete");
        await env.CreateProviderSecretAsync("sk-1");
        var first = await env.StartOperatorAsync(Quiet(env));
        await env.CreateKeyAsync("doomed");
        await env.WaitForReadyReasonAsync("doomed", ConditionReasons.Reconciled);
        await env.StopAsync(first);

        await env.DeleteKeyAsync("doomed");
        var crashing = await env.StartOperatorAsync(Quiet(env), new CallLog(crashAt));
        await Waits.UntilAsync(async () => crashing.Calls!.Crashed || await env.GetKeyAsync("doomed") is null, "the operator crashed or finished");
        await env.StopAsync(crashing);

        var restarted = await env.StartOperatorAsync(Quiet(env));
        await Waits.UntilAsync(async () => await env.GetKeyAsync("doomed") is null, "the key is gone");
        await Waits.UntilAsync(async () => await env.GetSecretAsync("doomed-token") is null, "the token Secret is collected");
        var record = await restarted.App.Registry.GetAsync(OperatorEnvironment.Ns, "doomed", includeCredentials: false, Ct);
        Assert.Equal(VirtualKeyState.Tombstoned, record!.State);
    }

    private static Operator.Options.OperatorSettings Quiet(OperatorEnvironment env) => env.Settings(usageInterval: TimeSpan.FromMinutes(10));
}
