using System.Net;
using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using VirtualKeys.Model;
using VirtualKeys.Operator.Hosting;
using VirtualKeys.Operator.Options;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Protection;

namespace VirtualKeys.EndToEnd.Tests.Scenario;

/// <summary>
/// The operator's behaviours from issue #4, one after another against any Kubernetes API: create →
/// Ready; a spec update; a provider Secret rotated (two keys share it); token rotation with its grace
/// period; each failure condition and its recovery; deletion; and a leader handing over to a standby.
/// Two operator instances with leader election run throughout, so the Lease path is exercised too.
/// </summary>
internal sealed class OperatorScenario(KubernetesClientConfiguration kubernetes, string registryConnectionString, string workDirectory)
{
    private const string Namespace = "default";
    private const string SecretName = "shared-provider";
    private const string SecretKey = "apiKey";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(4);

    private Kubernetes _client = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async Task RunAsync()
    {
        using var client = new Kubernetes(kubernetes);
        _client = client;
        await ClusterSetup.InstallCrdAsync(client, Namespace, Ct);
        var kekFile = Path.Combine(workDirectory, "kek");
        KeyEncryptionKey.WriteNewFile(kekFile);

        var first = await StartOperatorAsync(kekFile, "vk-e2e-a");
        OperatorApp? second = null;
        try
        {
            await Poll.UntilAsync("operator vk-e2e-a leading", Timeout, _ => Task.FromResult(first.IsLeader ? ((object?)true, "leader") : (null, "standby")), Ct);
            second = await StartOperatorAsync(kekFile, "vk-e2e-b");
            Log("two operators running; vk-e2e-a holds the lease");

            await CreateSecretAsync("sk-e2e-provider-one-0001");
            await CreateKeyAsync("alpha", k => k.Spec.Limits = new RateLimits { RequestsPerMinute = 10 });
            await CreateKeyAsync("beta", _ => { });

            var alpha = await WaitForReadyAsync("alpha", ConditionReasons.Reconciled);
            await WaitForReadyAsync("beta", ConditionReasons.Reconciled);
            var token = await ReadTokenAsync(alpha);
            var record = await first.Registry.GetAsync(Namespace, "alpha", includeCredentials: true, Ct);
            Assert.NotNull(record);
            Assert.Equal("sk-e2e-provider-one-0001", record.Credentials!["main"].Secret);
            Assert.Equal(TokenVerificationStatus.Accepted, (await first.Registry.VerifyTokenAsync(token, Ct)).Status);
            Assert.False(second.IsLeader, "the standby must not lead while the leader lives");
            Log("alpha and beta Ready; token Secret owned by the key; registry row holds the provider key");

            // A spec change: observedGeneration follows and the registry gets the new limits.
            await PatchKeyAsync("alpha", """{"spec":{"limits":{"requestsPerMinute":42}}}""");
            var updated = await WaitForReadyAsync("alpha", ConditionReasons.Reconciled, k => k.Status!.ObservedGeneration == k.Metadata.Generation && k.Metadata.Generation > alpha.Metadata.Generation);
            record = await first.Registry.GetAsync(Namespace, "alpha", includeCredentials: false, Ct);
            Assert.Equal(42, record!.Config.Limits.RequestsPerMinute);
            Assert.Equal(updated.Metadata.Generation, record.Generation);
            Log($"spec update: observedGeneration {updated.Status!.ObservedGeneration}, registry limits follow");

            // The shared Secret rotated: both keys get the new provider key, re-encrypted.
            await ReplaceSecretValueAsync("sk-e2e-provider-two-0002");
            foreach (var name in new[] { "alpha", "beta" })
            {
                await Poll.UntilAsync($"{name}'s registry row holding the rotated provider key", Timeout, async ct =>
                {
                    var current = await first.Registry.GetAsync(Namespace, name, includeCredentials: true, ct);
                    var secret = current?.Credentials?["main"].Secret;
                    return (secret == "sk-e2e-provider-two-0002" ? (object?)true : null, secret is null ? "no row" : "old value");
                }, Ct);
            }

            Log("provider Secret rotated: both keys sharing it re-encrypted");

            // Token rotation: a new token in the Secret; the old one valid for the grace period, then refused.
            // The rotation happens after the patch is sent, so the old token's grace ends after patched + Grace.
            var patched = DateTimeOffset.UtcNow;
            await PatchKeyAsync("alpha", System.Text.Json.JsonSerializer.Serialize(new { metadata = new { annotations = new Dictionary<string, string> { [WellKnown.RotateTokenAnnotation] = DateTimeOffset.UtcNow.ToString("O") } } }));
            var rotated = await Poll.UntilAsync("a new token in alpha-token", Timeout, async _ =>
            {
                var current = await ReadTokenAsync(await GetKeyAsync("alpha") ?? alpha);
                return (current != token ? current : null, "same token");
            }, Ct);
            // The operator writes the token Secret first and the registry right after it (so a crash
            // between the two cannot lose the only copy of a token): the new token is accepted a
            // moment after it appears in the Secret.
            await Poll.UntilAsync("the rotated token accepted by the registry", Timeout, async ct =>
            {
                var status = (await first.Registry.VerifyTokenAsync(rotated, ct)).Status;
                return (status == TokenVerificationStatus.Accepted ? (object?)true : null, status.ToString());
            }, Ct);
            var old = await first.Registry.VerifyTokenAsync(token, Ct);
            var oldCheckedWithin = DateTimeOffset.UtcNow - patched;
            if (oldCheckedWithin < Grace)
            {
                Assert.True(old.Status == TokenVerificationStatus.Accepted, $"old token {oldCheckedWithin.TotalSeconds:0.0}s after the rotation was asked for, inside the grace period: {old.Status}");
            }
            else
            {
                // A slow machine got here after the grace period: only the end of it can be checked.
                Assert.True(old.Status is TokenVerificationStatus.Accepted or TokenVerificationStatus.Retired, $"old token right after rotation: {old.Status}");
            }

            await Poll.UntilAsync("the old token refused after its grace period", Timeout, async ct =>
            {
                var status = (await first.Registry.VerifyTokenAsync(token, ct)).Status;
                return (status == TokenVerificationStatus.Retired ? (object?)true : null, status.ToString());
            }, Ct);
            var retiredSeenWithin = DateTimeOffset.UtcNow - patched;
            Assert.True(retiredSeenWithin >= Grace, $"the old token was refused {retiredSeenWithin.TotalSeconds:0.0}s after the rotation was asked for, before its {Grace.TotalSeconds:0}s grace period ended");
            Log($"token rotated: the old one refused after the {Grace.TotalSeconds:0}s grace period");

            // Failure conditions, each named on the resource, each recovering without a restart.
            await CreateKeyAsync("gamma", k => k.Spec.Providers[0].SecretRef.Name = "not-yet-there");
            await WaitForReadyAsync("gamma", ConditionReasons.SecretNotFound, k => ReadyMessage(k).Contains("not-yet-there", StringComparison.Ordinal));
            await CreateKeyAsync("delta", k => k.Spec.Providers[0].SecretRef.Key = "missingKey");
            await WaitForReadyAsync("delta", ConditionReasons.SecretKeyNotFound, k => ReadyMessage(k).Contains("missingKey", StringComparison.Ordinal));
            await CreateKeyAsync("epsilon", k => { k.Spec.DefaultModel = "gpt-4o"; k.Spec.AllowedModels = ["gpt-4o-mini"]; });
            await WaitForReadyAsync("epsilon", ConditionReasons.InvalidSpec, k => ReadyMessage(k).Contains("spec.defaultModel", StringComparison.Ordinal));
            await CreateSecretAsync("sk-e2e-provider-three-03", "not-yet-there");
            await WaitForReadyAsync("gamma", ConditionReasons.Reconciled);
            Log("SecretNotFound, SecretKeyNotFound and InvalidSpec named on the resources; the missing Secret's arrival healed gamma");

            // Leader failover: stopping the leader releases the Lease; the standby takes over and reconciles.
            var stopped = DateTimeOffset.UtcNow;
            await first.StopAsync(Ct);
            await first.DisposeAsync();
            await Poll.UntilAsync("the standby leading", LeaseDuration * 3, _ => Task.FromResult(second.IsLeader ? ((object?)true, "leader") : (null, "standby")), Ct);
            Log($"leader stopped; standby leading after {(DateTimeOffset.UtcNow - stopped).TotalSeconds:0.0}s (lease {LeaseDuration.TotalSeconds:0}s)");
            await PatchKeyAsync("beta", """{"spec":{"limits":{"requestsPerMinute":7}}}""");
            await Poll.UntilAsync("beta's new limit in the registry, written by the new leader", Timeout, async ct =>
            {
                var current = await second.Registry.GetAsync(Namespace, "beta", includeCredentials: false, ct);
                return (current?.Config.Limits.RequestsPerMinute == 7 ? (object?)true : null, $"rpm={current?.Config.Limits.RequestsPerMinute}");
            }, Ct);

            // Deletion: the finalizer is released only after the registry tombstoned the key.
            var betaKey = await GetKeyAsync("beta");
            var betaToken = await ReadTokenAsync(betaKey!);
            await _client.CustomObjects.DeleteNamespacedCustomObjectAsync(WellKnown.Group, WellKnown.Version, Namespace, WellKnown.Plural, "beta", cancellationToken: Ct);
            await Poll.UntilAsync("beta gone", Timeout, async _ => (await GetKeyAsync("beta") is null ? (object?)true : null, "still there"), Ct);
            Assert.Equal(TokenVerificationStatus.KeyDeleted, (await second.Registry.VerifyTokenAsync(betaToken, Ct)).Status);
            Log("beta deleted: finalizer released, registry tombstone refuses its token");
        }
        finally
        {
            await StopQuietlyAsync(second);
            await StopQuietlyAsync(first);
        }
    }

    private static string ReadyMessage(VirtualKey key) =>
        key.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready)?.Message ?? "";

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    private static async Task StopQuietlyAsync(OperatorApp? app)
    {
        if (app is null)
        {
            return;
        }

        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await app.StopAsync(stop.Token);
        }
        catch (ObjectDisposedException)
        {
            // Stopped and disposed by the failover step already.
        }

        await app.DisposeAsync();
    }

    private async Task<OperatorApp> StartOperatorAsync(string kekFile, string identity)
    {
        var settings = new OperatorSettings
        {
            RegistryConnectionString = registryConnectionString,
            RegistryKekFile = kekFile,
            WatchNamespaces = [Namespace],
            Workers = 2,
            UsageSyncInterval = TimeSpan.FromSeconds(1),
            TokenRotationGrace = Grace,
            LeaderElectionEnabled = true,
            LeaseName = "vk-e2e-operator",
            LeaseNamespace = Namespace,
            LeaseDuration = LeaseDuration,
            Identity = identity,
            Urls = "http://127.0.0.1:0",
        };
        var app = await OperatorApp.BuildAsync(settings, kubernetes, new OperatorAppOptions
        {
            ConfigureLogging = logging => logging.ClearProviders(),
            MetricsRegistry = Prometheus.Metrics.NewCustomRegistry(),
            DrainTimeout = TimeSpan.FromSeconds(3),
        }, Ct);
        try
        {
            await app.StartAsync(Ct);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }

    private async Task CreateSecretAsync(string providerKey, string name = SecretName)
    {
        var secret = new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Namespace },
            StringData = new Dictionary<string, string> { [SecretKey] = providerKey },
        };
        await _client.CoreV1.CreateNamespacedSecretAsync(secret, Namespace, cancellationToken: Ct);
    }

    private async Task ReplaceSecretValueAsync(string providerKey)
    {
        var patch = new V1Patch(
            $$$"""{"data":{"{{{SecretKey}}}":"{{{Convert.ToBase64String(Encoding.UTF8.GetBytes(providerKey))}}}"}}""",
            V1Patch.PatchType.MergePatch);
        await _client.CoreV1.PatchNamespacedSecretAsync(patch, SecretName, Namespace, cancellationToken: Ct);
    }

    private async Task CreateKeyAsync(string name, Action<VirtualKey> customize)
    {
        var key = new VirtualKey
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Namespace },
            Spec = new VirtualKeySpec
            {
                Providers = [new ProviderSpec { Name = "main", Type = Model.ProviderType.OpenAI, SecretRef = new SecretKeyRef { Name = SecretName, Key = SecretKey } }],
                DefaultModel = "gpt-4o-mini",
            },
        };
        customize(key);
        await _client.CustomObjects.CreateNamespacedCustomObjectAsync(key, WellKnown.Group, WellKnown.Version, Namespace, WellKnown.Plural, cancellationToken: Ct);
    }

    private Task PatchKeyAsync(string name, string mergePatch) =>
        _client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch(mergePatch, V1Patch.PatchType.MergePatch), WellKnown.Group, WellKnown.Version, Namespace, WellKnown.Plural, name, cancellationToken: Ct);

    private Task<VirtualKey> WaitForReadyAsync(string name, string reason, Func<VirtualKey, bool>? also = null) =>
        Poll.UntilAsync($"virtualkey {Namespace}/{name} Ready reason {reason}", Timeout, async _ =>
        {
            var key = await GetKeyAsync(name);
            var ready = key?.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready);
            var done = ready?.Reason == reason && key!.Status!.ObservedGeneration == key.Metadata.Generation && (also?.Invoke(key) ?? true);
            return (done ? key : null, ready is null ? "no Ready condition" : $"Ready={ready.Status} ({ready.Reason}: {ready.Message})");
        }, Ct);

    private async Task<string> ReadTokenAsync(VirtualKey key)
    {
        var secret = await _client.CoreV1.ReadNamespacedSecretAsync(key.GetTokenSecretName(), Namespace, cancellationToken: Ct);
        Assert.Contains(secret.Metadata.OwnerReferences ?? [], owner => owner.Kind == WellKnown.Kind && owner.Uid == key.Metadata.Uid && owner.Controller == true);
        return Encoding.UTF8.GetString(secret.Data[WellKnown.TokenSecretKey]);
    }

    private async Task<VirtualKey?> GetKeyAsync(string name)
    {
        try
        {
            return await _client.CustomObjects.GetNamespacedCustomObjectAsync<VirtualKey>(WellKnown.Group, WellKnown.Version, Namespace, WellKnown.Plural, name, Ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }
}
