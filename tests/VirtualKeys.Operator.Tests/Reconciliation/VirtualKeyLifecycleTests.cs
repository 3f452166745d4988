using System.Text;
using k8s;
using k8s.Models;
using VirtualKeys.Model;
using VirtualKeys.Operator.Reconciliation;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Reconciliation;

public sealed class VirtualKeyLifecycleTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_BecomesReady_WithOwnedTokenSecretAndRegistryRow()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "create");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-live-provider-1");
        var created = await env.CreateKeyAsync("team-a");

        var key = await env.WaitForReadyReasonAsync("team-a", ConditionReasons.Reconciled);

        Assert.Equal("True", OperatorEnvironment.ReadyOf(key)!.Status);
        Assert.Equal(key.Metadata.Generation, key.Status!.ObservedGeneration);
        Assert.Contains(WellKnown.Finalizer, key.Metadata.Finalizers!);
        Assert.Equal(VirtualKeyId.FromUid(created.Metadata.Uid), key.Status.KeyId);
        Assert.Equal("team-a-token", key.Status.TokenSecretName);

        var secret = await env.GetSecretAsync("team-a-token");
        Assert.NotNull(secret);
        var owner = Assert.Single(secret.Metadata.OwnerReferences!);
        Assert.Equal(created.Metadata.Uid, owner.Uid);
        Assert.True(owner.Controller);
        var token = Encoding.UTF8.GetString(secret.Data![WellKnown.TokenSecretKey]);

        var record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "team-a", includeCredentials: true, Ct);
        Assert.NotNull(record);
        Assert.Equal(VirtualKeyState.Active, record.State);
        Assert.Equal("gpt-4o-mini", record.Config.DefaultModel);
        Assert.Equal("sk-live-provider-1", record.Credentials!["openai"].Secret);
        Assert.Equal(TokenVerificationStatus.Accepted, (await op.App.Registry.VerifyTokenAsync(token, Ct)).Status);

        // The raw provider key and token never reach the status.
        var statusJson = k8s.KubernetesJson.Serialize(key.Status);
        Assert.DoesNotContain("sk-live-provider-1", statusJson, StringComparison.Ordinal);
        Assert.DoesNotContain(token, statusJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Creation_TakesAtMostThreeApiWrites()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "writes");
        await env.CreateProviderSecretAsync("sk-1");
        var op = await env.StartOperatorAsync();
        await env.CreateKeyAsync("lean");
        await env.WaitForReadyReasonAsync("lean", ConditionReasons.Reconciled);
        await Waits.UntilAsync(() => op.Calls!.Count("reconcile") >= 2, "the follow-up reconciles ran");

        Assert.True(op.Writes.Count <= 3, "writes: " + string.Join(", ", op.Writes.Writes));
    }

    [Fact]
    public async Task SpecUpdate_BumpsObservedGenerationAndRegistry()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "update");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("team-b");
        var first = await env.WaitForReadyReasonAsync("team-b", ConditionReasons.Reconciled);

        await env.UpdateKeyAsync("team-b", k => k.Spec.Limits = new RateLimits { RequestsPerMinute = 5, TokensPerMinute = 1000 });

        var updated = await env.WaitForReadyReasonAsync("team-b", ConditionReasons.Reconciled, k => k.Status!.ObservedGeneration > first.Status!.ObservedGeneration);
        Assert.Equal(updated.Metadata.Generation, updated.Status!.ObservedGeneration);
        var record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "team-b", includeCredentials: false, Ct);
        Assert.Equal(updated.Metadata.Generation, record!.Generation);
        Assert.Equal(5, record.Config.Limits.RequestsPerMinute);
        Assert.Equal(1000, record.Config.Limits.TokensPerMinute);
    }

    [Fact]
    public async Task ProviderSecretChange_ReencryptsEveryKeyThatSharesIt()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "shared");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-old");
        await env.CreateKeyAsync("one");
        await env.CreateKeyAsync("two");
        await env.WaitForReadyReasonAsync("one", ConditionReasons.Reconciled);
        await env.WaitForReadyReasonAsync("two", ConditionReasons.Reconciled);
        var fingerprintsBefore = await CredentialFingerprintsAsync(env);

        await env.UpdateProviderSecretAsync("sk-new");

        foreach (var name in new[] { "one", "two" })
        {
            await Waits.UntilAsync(
                async () => (await op.App.Registry.GetAsync(OperatorEnvironment.Ns, name, includeCredentials: true, Ct))!.Credentials!["openai"].Secret == "sk-new",
                $"{name}'s registry credential is the new key");
        }

        var fingerprintsAfter = await CredentialFingerprintsAsync(env);
        Assert.Equal(2, fingerprintsAfter.Count);
        Assert.All(fingerprintsAfter, f => Assert.DoesNotContain(f, fingerprintsBefore));
    }

    [Fact]
    public async Task RotateAnnotation_IssuesNewToken_AndTheOldOneIsRefusedAfterTheGrace()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "rotate");

        // Long enough that the old token is still accepted when the polls below reach it on a loaded machine.
        var op = await env.StartOperatorAsync(env.Settings(grace: TimeSpan.FromSeconds(10)));
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("rot");
        await env.WaitForReadyReasonAsync("rot", ConditionReasons.Reconciled);
        var oldToken = await TokenAsync(env, "rot-token");

        await env.UpdateKeyAsync("rot", k =>
        {
            k.Metadata.Annotations ??= new Dictionary<string, string>();
            k.Metadata.Annotations[WellKnown.RotateTokenAnnotation] = "2026-01-01T00:00:00Z";
        });

        var newToken = await Waits.UntilAsync(
            async () => await TokenAsync(env, "rot-token"),
            t => t != oldToken,
            _ => "the token Secret holds a new token");
        await Waits.UntilAsync(
            async () => (await op.App.Registry.VerifyTokenAsync(newToken, Ct)).Status == TokenVerificationStatus.Accepted,
            "the new token is accepted");
        Assert.Equal(TokenVerificationStatus.Accepted, (await op.App.Registry.VerifyTokenAsync(oldToken, Ct)).Status);
        await Waits.UntilAsync(
            async () => (await op.App.Registry.VerifyTokenAsync(oldToken, Ct)).Status == TokenVerificationStatus.Retired,
            "the old token is refused after the grace");

        // Handled once: the same annotation value does not rotate again.
        var record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "rot", includeCredentials: false, Ct);
        Assert.Equal(2, record!.Tokens.Count);
        Assert.Contains(await env.EventsForAsync("rot"), e => e.Reason == "TokenRotated");
    }

    [Fact]
    public async Task TokenSecret_HoldingARetiredTokenAgain_GetsANewToken_AndAWarning()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "restoreretired");
        var op = await env.StartOperatorAsync(env.Settings(grace: TimeSpan.FromSeconds(1)));
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("kept");
        await env.WaitForReadyReasonAsync("kept", ConditionReasons.Reconciled);
        var backedUp = await TokenAsync(env, "kept-token");
        await env.UpdateKeyAsync("kept", k => k.Metadata.Annotations = new Dictionary<string, string> { [WellKnown.RotateTokenAnnotation] = "r1" });
        var rotated = await Waits.UntilAsync(async () => await TokenAsync(env, "kept-token"), t => t != backedUp, _ => "the token Secret holds a new token");
        await Waits.UntilAsync(
            async () => (await op.App.Registry.VerifyTokenAsync(backedUp, Ct)).Status == TokenVerificationStatus.Retired,
            "the first token is refused after the grace");

        // The Secret's data as backed up before the rotation, applied again (a restore, a GitOps tool).
        var restore = new V1Patch(
            new { data = new Dictionary<string, byte[]> { [WellKnown.TokenSecretKey] = Encoding.UTF8.GetBytes(backedUp) } },
            V1Patch.PatchType.MergePatch);
        await env.Client.CoreV1.PatchNamespacedSecretAsync(restore, "kept-token", OperatorEnvironment.Ns, cancellationToken: Ct);

        var issued = await Waits.UntilAsync(
            async () => await TokenAsync(env, "kept-token"),
            t => t != backedUp,
            _ => "the token Secret holds a token that is not retired");
        Assert.False(issued == rotated, "the Secret holds the token the restore replaced, which only the registry knows the hash of");
        await Waits.UntilAsync(
            async () => (await op.App.Registry.VerifyTokenAsync(issued, Ct)).Status == TokenVerificationStatus.Accepted,
            "the new token is accepted");
        await env.WaitForReadyReasonAsync("kept", ConditionReasons.Reconciled);
        await Waits.UntilAsync(
            async () => (await env.EventsForAsync("kept")).Any(e => e.Type == "Warning" && e.Reason == VirtualKeyReconciler.RetiredTokenReplaced && e.Message.Contains("default/kept-token", StringComparison.Ordinal)),
            "a Warning event that names the token Secret");
    }

    [Fact]
    public async Task TokenSecretName_SwitchedAwayAndBack_LeavesOneLiveTokenInTheNamedSecret()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "switchback");
        var op = await env.StartOperatorAsync(env.Settings(grace: TimeSpan.FromSeconds(2)));
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("k", s => s.TokenSecretName = "t-a");
        await env.WaitForReadyReasonAsync("k", ConditionReasons.Reconciled);
        var first = await TokenAsync(env, "t-a");

        var toB = (await env.UpdateKeyAsync("k", k => k.Spec.TokenSecretName = "t-b")).Metadata.Generation;
        await env.WaitForReadyReasonAsync("k", ConditionReasons.Reconciled, k => k.Status!.ObservedGeneration >= toB && k.Status.TokenSecretName == "t-b");
        var second = await TokenAsync(env, "t-b");
        await Waits.UntilAsync(
            async () => (await op.App.Registry.VerifyTokenAsync(first, Ct)).Status == TokenVerificationStatus.Retired,
            "t-a's token is refused after the grace");

        var backToA = (await env.UpdateKeyAsync("k", k => k.Spec.TokenSecretName = "t-a")).Metadata.Generation;
        await env.WaitForReadyReasonAsync("k", ConditionReasons.Reconciled, k => k.Status!.ObservedGeneration >= backToA && k.Status.TokenSecretName == "t-a");
        var third = await TokenAsync(env, "t-a");
        await Waits.UntilAsync(
            async () => (await op.App.Registry.VerifyTokenAsync(second, Ct)).Status == TokenVerificationStatus.Retired,
            "t-b's token is refused after the grace");

        // The Secret the key names holds a live token: a new one, not the one rotated out before.
        Assert.False(first == third, "t-a still holds the token rotated out when the key moved to t-b");
        Assert.Equal(TokenVerificationStatus.Accepted, (await op.App.Registry.VerifyTokenAsync(third, Ct)).Status);
        Assert.Equal(TokenVerificationStatus.Retired, (await op.App.Registry.VerifyTokenAsync(first, Ct)).Status);
    }

    [Fact]
    public async Task TokenSecretName_SwitchedDuringARegistryOutage_IssuesTheNewSecretsTokenOnce()
    {
        await using var cluster = await PostgresCluster.StartNewAsync(cancellationToken: Ct);
        await using var env = await OperatorEnvironment.StartAsync(postgres, "switchoutage", cluster.GetConnectionString());
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("k", s => s.TokenSecretName = "t-a");
        await env.WaitForReadyReasonAsync("k", ConditionReasons.Reconciled);

        await cluster.StopAsync(Ct);
        var toB = (await env.UpdateKeyAsync("k", k => k.Spec.TokenSecretName = "t-b")).Metadata.Generation;
        await env.WaitForReadyReasonAsync("k", ConditionReasons.RegistryUnavailable, k => k.Status!.ObservedGeneration >= toB);
        await Waits.UntilAsync(async () => await env.GetSecretAsync("t-b") is not null, "t-b is created");
        var issued = await TokenAsync(env, "t-b");

        // Retries against the registry that is still away: each one finds t-b as an earlier attempt left it.
        var reconciles = op.Calls!.Count("reconcile");
        await Waits.UntilAsync(() => op.Calls.Count("reconcile") >= reconciles + 3, "the reconcile was retried", TimeSpan.FromSeconds(60));
        Assert.True(issued == await TokenAsync(env, "t-b"), "a retry issued another token into t-b");

        await cluster.StartAsync(Ct);
        await env.WaitForReadyReasonAsync("k", ConditionReasons.Reconciled, k => k.Status!.TokenSecretName == "t-b", TimeSpan.FromSeconds(60));
        Assert.True(issued == await TokenAsync(env, "t-b"), "the registered switch issued another token into t-b");
        Assert.Equal(TokenVerificationStatus.Accepted, (await op.App.Registry.VerifyTokenAsync(issued, Ct)).Status);
        var record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "k", includeCredentials: false, Ct);
        Assert.Equal(2, record!.Tokens.Count); // t-a's, retiring, and t-b's
        Assert.DoesNotContain(await env.EventsForAsync("k"), e => e.Reason == "TokenRotated");
    }

    [Fact]
    public async Task TokenSecretName_SwitchWhoseStatusWriteConflicts_KeepsTheTokenItIssued()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "switchconflict");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("k", s => s.TokenSecretName = "t-a");
        await env.WaitForReadyReasonAsync("k", ConditionReasons.Reconciled);

        // The token is issued into t-b and registered, then the status write that records the switch
        // meets a conflict, twice. The user's edit is a patch, which these faults leave alone.
        env.Server.Faults.FailNext(2, 409, "virtualkeys", "update", "the object has been modified; please apply your changes to the latest version and try again");
        await env.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"tokenSecretName":"t-b"}}""", V1Patch.PatchType.MergePatch),
            WellKnown.Group,
            WellKnown.Version,
            OperatorEnvironment.Ns,
            WellKnown.Plural,
            "k",
            cancellationToken: Ct);

        await env.WaitForReadyReasonAsync("k", ConditionReasons.Reconciled, k => k.Status!.TokenSecretName == "t-b");
        var token = await TokenAsync(env, "t-b");
        Assert.Equal(TokenVerificationStatus.Accepted, (await op.App.Registry.VerifyTokenAsync(token, Ct)).Status);
        var record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "k", includeCredentials: false, Ct);
        Assert.Equal(2, record!.Tokens.Count); // t-a's, retiring, and the one token issued into t-b
        Assert.Single(record.Tokens, t => t.NotAfter is null);
        Assert.DoesNotContain(await env.EventsForAsync("k"), e => e.Reason == "TokenRotated");
    }

    [Fact]
    public async Task NameLongerThanALabelValue_BecomesReady_AndItsTokenSecretIsFoundAgainByItsLabel()
    {
        var name = "team-with-a-very-long-name-for-its-gateway-key-" + new string('x', 20) + ".v2";
        Assert.True(name.Length > 63);
        await using var env = await OperatorEnvironment.StartAsync(postgres, "longname");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync(name);

        var key = await env.WaitForReadyReasonAsync(name, ConditionReasons.Reconciled);
        var secretName = name + "-token";
        Assert.Equal(secretName, key.Status!.TokenSecretName);
        var secret = await env.GetSecretAsync(secretName);
        var label = secret!.Metadata.Labels![TokenSecrets.KeyLabel];
        Assert.True(label.Length <= 63, label);
        Assert.StartsWith(name[..40], label, StringComparison.Ordinal);
        var token = await TokenAsync(env, secretName);
        Assert.Equal(TokenVerificationStatus.Accepted, (await op.App.Registry.VerifyTokenAsync(token, Ct)).Status);

        // Its owner reference lost (a restore from backup, a hand edit): the label still says whose it is.
        await env.Client.CoreV1.PatchNamespacedSecretAsync(
            new V1Patch("""{"metadata":{"ownerReferences":null}}""", V1Patch.PatchType.MergePatch),
            secretName,
            OperatorEnvironment.Ns,
            cancellationToken: Ct);
        await Waits.UntilAsync(
            async () => (await env.GetSecretAsync(secretName))?.Metadata.OwnerReferences?.Any(o => o.Uid == key.Metadata.Uid) == true,
            "the token Secret is owned by its key again");
        Assert.Equal(token, await TokenAsync(env, secretName));
        Assert.Equal(ConditionReasons.Reconciled, OperatorEnvironment.ReadyOf(await env.GetKeyAsync(name))!.Reason);
    }

    [Fact]
    public async Task Delete_TombstonesTheRow_RemovesTheFinalizer_AndTheTokenSecretIsCollected()
    {
        await using var env = await OperatorEnvironment.StartAsync(postgres, "delete");
        var op = await env.StartOperatorAsync();
        await env.CreateProviderSecretAsync("sk-1");
        await env.CreateKeyAsync("gone");
        await env.WaitForReadyReasonAsync("gone", ConditionReasons.Reconciled);
        var token = await TokenAsync(env, "gone-token");

        await env.DeleteKeyAsync("gone");

        await Waits.UntilAsync(async () => await env.GetKeyAsync("gone") is null, "the VirtualKey is gone");
        await Waits.UntilAsync(async () => await env.GetSecretAsync("gone-token") is null, "the token Secret is garbage-collected");
        var record = await op.App.Registry.GetAsync(OperatorEnvironment.Ns, "gone", includeCredentials: false, Ct);
        Assert.Equal(VirtualKeyState.Tombstoned, record!.State);
        Assert.Equal(TokenVerificationStatus.KeyDeleted, (await op.App.Registry.VerifyTokenAsync(token, Ct)).Status);
    }

    internal static async Task<string> TokenAsync(OperatorEnvironment env, string secretName)
    {
        var secret = await env.GetSecretAsync(secretName) ?? throw new InvalidOperationException($"Secret {secretName} not found.");
        return Encoding.UTF8.GetString(secret.Data![WellKnown.TokenSecretKey]);
    }

    private static async Task<List<string>> CredentialFingerprintsAsync(OperatorEnvironment env)
    {
        await using var connection = new Npgsql.NpgsqlConnection(env.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new Npgsql.NpgsqlCommand("SELECT encode(fingerprint, 'hex') FROM vk.provider_credentials", connection);
        var result = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            result.Add(reader.GetString(0));
        }

        return result;
    }
}
