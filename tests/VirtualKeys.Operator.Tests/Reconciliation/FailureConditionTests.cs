using VirtualKeys.Model;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Reconciliation;

public sealed class FailureConditionTests(PostgresFixture postgres)
{
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
        Assert.Equal(VirtualKeys.Registry.Keys.VirtualKeyState.Suspended, record!.State);

        await env.UpdateKeyAsync("paused", k => k.Spec.Suspended = false);
        await env.WaitForReadyReasonAsync("paused", ConditionReasons.Reconciled);
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
