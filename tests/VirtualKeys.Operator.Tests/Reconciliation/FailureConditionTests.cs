using System.Security.Cryptography;
using System.Text;
using k8s;
using VirtualKeys.Model;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Reconciliation;

public sealed class FailureConditionTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task InvalidSpec_NamesEveryBadField_AndDoesNotRequeueHot()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "invalid");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("bad", spec =>
        {
            spec.Providers[0].Models = ["gpt-4o"];
            spec.DefaultModel = "gpt-4o-mini";
            spec.ModelAliases = new Dictionary<string, string> { ["fast"] = "cheap", ["cheap"] = "gpt-4o" };
        });

        var key = await env.WaitForReadyReasonAsync("bad", ConditionReasons.InvalidSpec);
        var message = OperatorEnvironment.ReadyOf(key)!.Message;
        Assert.Contains("spec.defaultModel", message, StringComparison.Ordinal);
        Assert.Contains("spec.modelAliases.fast", message, StringComparison.Ordinal);
        Assert.Equal(key.Metadata.Generation, key.Status!.ObservedGeneration);
        Assert.Null(await env.GetSecretAsync("bad-token"));
        // The Event follows the status write: wait for it rather than race it.
        await Waits.UntilAsync(async () => (await env.EventsForAsync("bad")).Any(e => e.Reason == ConditionReasons.InvalidSpec && e.Type == "Warning"), "an InvalidSpec Warning event");

        var reconciles = op.Calls!.Count("reconcile");
        await Task.Delay(500, TestContext.Current.CancellationToken);
        Assert.True(op.Calls.Count("reconcile") - reconciles <= 2, "an invalid key is not reconciled in a loop");

        await env.UpdateKeyAsync("bad", k =>
        {
            k.Spec.DefaultModel = "gpt-4o";
            k.Spec.ModelAliases = null;
        });
        await env.WaitForReadyReasonAsync("bad", ConditionReasons.Reconciled);
    }

    [Fact]
    public async Task MissingSecret_IsReported_AndTheKeyRecoversWhenTheSecretAppears()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "nosecret");
        await env.StartOperatorAsync();
        await env.CreateKeyAsync("waiting");

        var key = await env.WaitForReadyReasonAsync("waiting", ConditionReasons.SecretNotFound);
        Assert.Contains("default/openai-key", OperatorEnvironment.ReadyOf(key)!.Message, StringComparison.Ordinal);
        await Waits.UntilAsync(async () => (await env.EventsForAsync("waiting")).Any(e => e.Reason == ConditionReasons.SecretNotFound && e.Type == "Warning"), "a SecretNotFound Warning event");

        await env.CreateProviderSecretAsync("sk-late");
        await env.WaitForReadyReasonAsync("waiting", ConditionReasons.Reconciled);
    }

    [Fact]
    public async Task SecretWithoutTheKey_IsReportedWithNamespaceNameAndKey()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "nokey");
        await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1", key: "other");
        await env.CreateKeyAsync("wrongkey");

        var key = await env.WaitForReadyReasonAsync("wrongkey", ConditionReasons.SecretKeyNotFound);
        var message = OperatorEnvironment.ReadyOf(key)!.Message;
        Assert.Contains("default/openai-key", message, StringComparison.Ordinal);
        Assert.Contains("'api-key'", message, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-1", message, StringComparison.Ordinal);

        await env.UpdateProviderSecretAsync("sk-2");
        await env.WaitForReadyReasonAsync("wrongkey", ConditionReasons.Reconciled);
    }

    [Fact]
    public async Task Expiry_TurnsReadyFalse_WhenTheTimeComes()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "expiry");
        await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("soon", spec => spec.ExpiresAt = DateTimeOffset.UtcNow.AddSeconds(3));
        await env.CreateKeyAsync("past", spec => spec.ExpiresAt = DateTimeOffset.UtcNow.AddDays(-1));

        await env.WaitForReadyReasonAsync("past", ConditionReasons.Expired);
        await env.WaitForReadyReasonAsync("soon", ConditionReasons.Reconciled);
        await env.WaitForReadyReasonAsync("soon", ConditionReasons.Expired);
    }

    [Fact]
    public async Task Suspended_IsNotReady_AndRegisteredAsSuspended()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "suspended");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("paused", spec => spec.Suspended = true);

        await env.WaitForReadyReasonAsync("paused", ConditionReasons.Suspended);
        var record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "paused", includeCredentials: false, TestContext.Current.CancellationToken);
        Assert.Equal(VirtualKeyState.Suspended, record!.State);

        await env.UpdateKeyAsync("paused", k => k.Spec.Suspended = false);
        await env.WaitForReadyReasonAsync("paused", ConditionReasons.Reconciled);
    }

    [Fact]
    public async Task Suspending_WhileTheProviderSecretIsGone_ReachesTheRegistry_AndTheStatusSaysBoth()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "suspendnosecret");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-leaked");
        await env.CreateKeyAsync("leaky");
        await env.WaitForReadyReasonAsync("leaky", ConditionReasons.Reconciled);
        var token = await VirtualKeyLifecycleTests.TokenAsync(env, "leaky-token");

        // Incident response: the leaked provider Secret goes first, then the key is suspended.
        await env.Client.CoreV1.DeleteNamespacedSecretAsync(OperatorEnvironment.ProviderSecret, OperatorEnvironment.Ns, cancellationToken: Ct);
        await env.WaitForReadyReasonAsync("leaky", ConditionReasons.SecretNotFound);
        var suspended = (await env.UpdateKeyAsync("leaky", k => k.Spec.Suspended = true)).Metadata.Generation;

        var key = await env.WaitForReadyReasonAsync("leaky", ConditionReasons.SecretNotFound, k => k.Status!.ObservedGeneration >= suspended);
        var record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "leaky", includeCredentials: false, Ct);
        Assert.Equal(VirtualKeyState.Suspended, record!.State);
        Assert.True(record.Config.Suspended);
        Assert.Equal(VirtualKeyState.Suspended, (await op.App.Registry.VerifyTokenAsync(token, Ct)).State);
        var message = OperatorEnvironment.ReadyOf(key)!.Message;
        Assert.Contains("default/openai-key", message, StringComparison.Ordinal);
        Assert.Contains("keeps the key suspended: requests with it are refused", message, StringComparison.Ordinal);
        await Waits.UntilAsync(
            async () => (await env.EventsForAsync("leaky")).Any(e => e.Reason == ConditionReasons.SecretNotFound && e.Message.Contains("suspended", StringComparison.Ordinal)),
            "a SecretNotFound event that says the key is suspended");

        // The Secret back, the spec registers whole: still suspended, as the spec says.
        await env.CreateProviderSecretAsync("sk-new");
        await env.WaitForReadyReasonAsync("leaky", ConditionReasons.Suspended);
        Assert.Equal("sk-new", (await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "leaky", includeCredentials: true, Ct))!.Credentials!["openai"].Secret);
    }

    [Fact]
    public async Task WhileTheSpecDoesNotValidate_AnEarlierExpiryReachesTheRegistry_AndNothingThatGivesMore()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "restrictinvalid");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("tight", spec => spec.Limits = new RateLimits { RequestsPerMinute = 60 });
        await env.WaitForReadyReasonAsync("tight", ConditionReasons.Reconciled);

        var expiry = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var broken = (await env.UpdateKeyAsync("tight", k =>
        {
            k.Spec.Providers[0].Models = ["gpt-4o"]; // the default model gpt-4o-mini is now served by no provider
            k.Spec.Limits = new RateLimits { RequestsPerMinute = 6000 };
            k.Spec.ExpiresAt = expiry;
        })).Metadata.Generation;

        var key = await env.WaitForReadyReasonAsync("tight", ConditionReasons.InvalidSpec, k => k.Status!.ObservedGeneration >= broken);
        var record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "tight", includeCredentials: false, Ct);
        Assert.Equal(expiry, record!.Config.ExpiresAt);
        Assert.Equal(60, record.Config.Limits.RequestsPerMinute);
        Assert.Contains("the key has expired (at 2020-01-01 00:00:00Z): its token is refused", OperatorEnvironment.ReadyOf(key)!.Message, StringComparison.Ordinal);

        // Taking the expiry away gives the key more: that waits until the spec registers whole.
        var lifted = (await env.UpdateKeyAsync("tight", k => k.Spec.ExpiresAt = null)).Metadata.Generation;
        await env.WaitForReadyReasonAsync("tight", ConditionReasons.InvalidSpec, k => k.Status!.ObservedGeneration >= lifted);
        Assert.Equal(expiry, (await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "tight", includeCredentials: false, Ct))!.Config.ExpiresAt);

        await env.UpdateKeyAsync("tight", k => k.Spec.Providers[0].Models = null);
        await env.WaitForReadyReasonAsync("tight", ConditionReasons.Reconciled);
        record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "tight", includeCredentials: false, Ct);
        Assert.Null(record!.Config.ExpiresAt);
        Assert.Equal(6000, record.Config.Limits.RequestsPerMinute);
    }

    [Fact]
    public async Task RotationAsked_WhileTheProviderSecretIsGone_IssuesANewToken_AndRetiresTheOldOne()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "rotatenosecret");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("spilled");
        await env.WaitForReadyReasonAsync("spilled", ConditionReasons.Reconciled);
        var oldToken = await VirtualKeyLifecycleTests.TokenAsync(env, "spilled-token");
        await env.Client.CoreV1.DeleteNamespacedSecretAsync(OperatorEnvironment.ProviderSecret, OperatorEnvironment.Ns, cancellationToken: Ct);
        await env.WaitForReadyReasonAsync("spilled", ConditionReasons.SecretNotFound);

        await env.UpdateKeyAsync("spilled", k => k.Metadata.Annotations = new Dictionary<string, string> { [WellKnown.RotateTokenAnnotation] = "leak-1" });

        var newToken = await Waits.UntilAsync(
            async () => await VirtualKeyLifecycleTests.TokenAsync(env, "spilled-token"),
            t => t != oldToken,
            _ => "the token Secret holds a new token");
        await Waits.UntilAsync(
            async () => (await op.App.Registry.VerifyTokenAsync(newToken, Ct)).Status == TokenVerificationStatus.Accepted,
            "the new token is accepted");
        var record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "spilled", includeCredentials: false, Ct);
        var old = Assert.Single(record!.Tokens, t => t.Hash.AsSpan().SequenceEqual(SHA256.HashData(Encoding.UTF8.GetBytes(oldToken))));
        Assert.NotNull(old.NotAfter);
        var ready = OperatorEnvironment.ReadyOf(await env.GetKeyAsync("spilled"))!;
        Assert.Equal(ConditionReasons.SecretNotFound, ready.Reason);
        Assert.Contains("meanwhile the key is served as last registered", ready.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenSecretCreation_Forbidden_IsReportedWithTheSecretAndStatus_AndRetriedUntilAllowed()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "secretforbidden");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");

        // The operator's Role lacks secrets in this namespace.
        env.Server.Faults.FailNext(
            1000,
            403,
            "secrets",
            "create",
            "secrets \"walled-token\" is forbidden: User \"system:serviceaccount:vk-system:virtual-key-operator\" cannot create resource \"secrets\" in API group \"\" in the namespace \"default\"");
        await env.CreateKeyAsync("walled");

        var key = await env.WaitForReadyReasonAsync("walled", ConditionReasons.TokenSecretRefused);
        var ready = OperatorEnvironment.ReadyOf(key)!;
        Assert.Equal("False", ready.Status);
        Assert.Contains("create token Secret default/walled-token: 403 Forbidden", ready.Message, StringComparison.Ordinal);
        Assert.Contains("cannot create resource \"secrets\"", ready.Message, StringComparison.Ordinal);
        await Waits.UntilAsync(
            async () => (await env.EventsForAsync("walled")).Any(e => e.Reason == ConditionReasons.TokenSecretRefused && e.Type == "Warning"),
            "a TokenSecretRefused Warning event");
        var reconciles = op.Calls!.Count("reconcile");
        await Waits.UntilAsync(() => op.Calls.Count("reconcile") >= reconciles + 2, "the write is retried");

        env.Server.Faults.Reset();
        await env.WaitForReadyReasonAsync("walled", ConditionReasons.Reconciled);
        var token = await VirtualKeyLifecycleTests.TokenAsync(env, "walled-token");
        Assert.Equal(TokenVerificationStatus.Accepted, (await op.App.Registry.VerifyTokenAsync(token, Ct)).Status);
    }

    [Fact]
    public async Task TokenRotation_RefusedAsInvalid_IsReported_WithoutAnyToken_AndTheOldTokenKeepsWorking()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "secretinvalid");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("policed");
        await env.WaitForReadyReasonAsync("policed", ConditionReasons.Reconciled);
        var token = await VirtualKeyLifecycleTests.TokenAsync(env, "policed-token");

        // An admission policy refuses the update, and its message echoes something token-shaped.
        var echoed = "vk_0123456789abcdef_" + new string('x', 43);
        env.Server.Faults.FailNext(
            1000,
            422,
            "secrets",
            "update",
            $"Secret \"policed-token\" is invalid: data[token]: Invalid value: \"{echoed}\": denied by ValidatingAdmissionPolicy 'secret-rules'");
        await env.UpdateKeyAsync("policed", k => k.Metadata.Annotations = new Dictionary<string, string> { [WellKnown.RotateTokenAnnotation] = "r1" });

        var key = await env.WaitForReadyReasonAsync("policed", ConditionReasons.TokenSecretRefused);
        var message = OperatorEnvironment.ReadyOf(key)!.Message;
        Assert.Contains("update token Secret default/policed-token: 422 Invalid", message, StringComparison.Ordinal);
        Assert.Contains("denied by ValidatingAdmissionPolicy 'secret-rules'", message, StringComparison.Ordinal);
        Assert.Contains("meanwhile the key is served as last registered", message, StringComparison.Ordinal);
        Assert.DoesNotContain(echoed[^43..], message, StringComparison.Ordinal);
        Assert.DoesNotContain(token[^43..], message, StringComparison.Ordinal);
        Assert.Equal(TokenVerificationStatus.Accepted, (await op.App.Registry.VerifyTokenAsync(token, Ct)).Status);

        env.Server.Faults.Reset();
        await env.WaitForReadyReasonAsync("policed", ConditionReasons.Reconciled);
        Assert.False(token == await VirtualKeyLifecycleTests.TokenAsync(env, "policed-token"), "the rotation did not happen once allowed");
    }

    [Fact]
    public async Task RegistryOutage_IsReported_AndRecoversWithoutRestart()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await PostgresCluster.StartNewAsync(cancellationToken: ct);
        await using var env = await OperatorEnvironment.StartAsync(postgres, "outage", cluster.GetConnectionString());
        await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("fragile");
        await env.WaitForReadyReasonAsync("fragile", ConditionReasons.Reconciled);

        await cluster.StopAsync(ct);
        await env.UpdateKeyAsync("fragile", k => k.Spec.Limits = new RateLimits { RequestsPerMinute = 7 });
        var down = await env.WaitForReadyReasonAsync("fragile", ConditionReasons.RegistryUnavailable);
        Assert.Contains($"{cluster.Host}:{cluster.Port}", OperatorEnvironment.ReadyOf(down)!.Message, StringComparison.Ordinal);

        await cluster.StartAsync(ct);
        var up = await env.WaitForReadyReasonAsync("fragile", ConditionReasons.Reconciled, bound: TimeSpan.FromSeconds(60));
        Assert.Equal(up.Metadata.Generation, up.Status!.ObservedGeneration);
    }

    [Fact]
    public async Task IdleResync_WritesNothing_ToTheApiServerOrTheRegistry()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "idle");
        var op = await env.StartOperatorAsync(env.Settings(resync: TimeSpan.FromMilliseconds(300)));
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("quiet-1");
        await env.CreateKeyAsync("quiet-2");
        await env.WaitForReadyReasonAsync("quiet-1", ConditionReasons.Reconciled);
        await env.WaitForReadyReasonAsync("quiet-2", ConditionReasons.Reconciled);
        await Waits.UntilAsync(() => op.Calls!.Count("reconcile") >= 6, "a few reconciles ran");

        var writes = op.Writes.Count;
        var registryWrites = op.Calls!.Count("registry:upsert") + op.Calls.Count("registry:tombstone");
        var reconciles = op.Calls.Count("reconcile");
        await Waits.UntilAsync(() => op.Calls.Count("reconcile") >= reconciles + 12, "several resyncs ran");

        Assert.Equal(writes, op.Writes.Count);
        Assert.Equal(registryWrites, op.Calls.Count("registry:upsert") + op.Calls.Count("registry:tombstone"));
    }
}
