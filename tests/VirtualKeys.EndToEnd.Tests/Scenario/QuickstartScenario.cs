using System.Net;
using System.Net.Http.Headers;
using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.MockProvider;
using VirtualKeys.Model;
using VirtualKeys.Operator.Hosting;
using VirtualKeys.Operator.Options;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Sidecar.Hosting;
using VirtualKeys.Sidecar.Registry;

namespace VirtualKeys.EndToEnd.Tests.Scenario;

/// <summary>
/// The quickstart, end to end, against any Kubernetes API: the CRD installed from
/// config/crd/bases, the operator out of cluster on a fresh registry database, the mock provider,
/// examples/quickstart applied, Ready awaited, the token read from its Secret, a chat completion
/// through a sidecar on the same registry (the sidecar's own registry-backed snapshot source and
/// usage sink), usage seen in status, then the key deleted and gone (finalizer released by the
/// operator, token Secret garbage-collected).
/// </summary>
internal sealed class QuickstartScenario(KubernetesClientConfiguration kubernetes, string registryConnectionString, string workDirectory)
{
    private const string Namespace = "default";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ChatTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan UsageTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DeletionTimeout = TimeSpan.FromSeconds(60);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var client = new Kubernetes(kubernetes);
        await ClusterSetup.InstallCrdAsync(client, Namespace, cancellationToken);
        Log($"CRD {WellKnown.CrdName} established and served at {kubernetes.Host}");

        var kekFile = Path.Combine(workDirectory, "kek");
        KeyEncryptionKey.WriteNewFile(kekFile);

        await using var mock = await MockLlmProvider.StartAsync(cancellationToken: cancellationToken);
        await using var operatorApp = await StartOperatorAsync(kekFile, cancellationToken);
        Log($"operator started on {string.Join(", ", operatorApp.Urls)}; mock provider at {mock.OpenAIBaseUrl}");
        try
        {
            await UseQuickstartAsync(client, mock, kekFile, cancellationToken);
        }
        finally
        {
            // Stopped gracefully whether the scenario passed or not: reconciles drain, nothing outlives the test.
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await operatorApp.StopAsync(stop.Token);
        }
    }

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    private async Task UseQuickstartAsync(Kubernetes client, MockLlmProvider mock, string kekFile, CancellationToken cancellationToken)
    {
        var name = await ApplyQuickstartAsync(client, mock.OpenAIBaseUrl, cancellationToken);
        var ready = await WaitForReadyAsync(client, name, cancellationToken);
        Assert.Contains(WellKnown.Finalizer, ready.Metadata.Finalizers ?? []);
        var (tokenSecretName, token) = await ReadTokenAsync(client, ready, cancellationToken);
        Assert.Equal(name + WellKnown.TokenSecretNameSuffix, tokenSecretName);
        Log($"virtualkey {Namespace}/{name} Ready (key id {ready.Status?.KeyId}); token read from secret {tokenSecretName}");

        await using (var registry = await VirtualKeyRegistry.OpenAsync(registryConnectionString, kekFile, TimeProvider.System, NullLoggerFactory.Instance, cancellationToken))
        {
            await using var sidecar = await SidecarHost.StartAsync(
                new SidecarOptions { ListenAddress = IPAddress.Loopback.ToString(), Port = 0, UsageFlushInterval = TimeSpan.FromSeconds(1) },
                new RegistryKeySnapshotSource(registry),
                new RegistryUsageSink(registry),
                configure: builder => builder.Logging.ClearProviders(),
                cancellationToken: cancellationToken);
            await ChatAsync(sidecar.BaseAddress, token, cancellationToken);
            Assert.NotEmpty(mock.Requests);
            Log($"chat completion answered 200 through the sidecar at {sidecar.BaseAddress}; the mock saw {mock.Requests.Count} request(s)");

            var used = await WaitForUsageAsync(client, name, cancellationToken);
            Log($"status.usage: {used.Status!.Usage!.Requests} request(s), ${used.Status.Usage.CostUsd}");
        }

        await DeleteAndWaitGoneAsync(client, name, tokenSecretName, cancellationToken);
        Log($"virtualkey {Namespace}/{name} deleted: finalizer released, secret {tokenSecretName} garbage-collected");
    }

    private async Task<OperatorApp> StartOperatorAsync(string kekFile, CancellationToken cancellationToken)
    {
        var settings = new OperatorSettings
        {
            RegistryConnectionString = registryConnectionString,
            RegistryKekFile = kekFile,
            WatchNamespaces = [Namespace],
            Workers = 2,
            UsageSyncInterval = TimeSpan.FromSeconds(1),
            LeaderElectionEnabled = false,
            Identity = "vk-e2e",
            Urls = "http://127.0.0.1:0",
        };
        var operatorApp = await OperatorApp.BuildAsync(settings, kubernetes, new OperatorAppOptions
        {
            ConfigureLogging = logging => logging.ClearProviders(),
            MetricsRegistry = Prometheus.Metrics.NewCustomRegistry(),
            DrainTimeout = TimeSpan.FromSeconds(3),
        }, cancellationToken);
        try
        {
            await operatorApp.StartAsync(cancellationToken);
        }
        catch
        {
            await operatorApp.DisposeAsync();
            throw;
        }

        return operatorApp;
    }

    /// <summary>Applies examples/quickstart as a user would, with the provider pointed at the mock; returns the VirtualKey's name.</summary>
    private static async Task<string> ApplyQuickstartAsync(Kubernetes client, string mockOpenAIBaseUrl, CancellationToken cancellationToken)
    {
        var quickstart = Path.Combine(ClusterSetup.Manifests, "quickstart");
        var secret = KubernetesYaml.Deserialize<V1Secret>(await File.ReadAllTextAsync(Path.Combine(quickstart, "provider-secret.yaml"), cancellationToken));
        secret.Metadata.NamespaceProperty = Namespace;
        await client.CoreV1.CreateNamespacedSecretAsync(secret, Namespace, cancellationToken: cancellationToken);

        var virtualKey = KubernetesYaml.Deserialize<VirtualKey>(await File.ReadAllTextAsync(Path.Combine(quickstart, "virtualkey.yaml"), cancellationToken));
        virtualKey.Metadata.NamespaceProperty = Namespace;
        var provider = Assert.Single(virtualKey.Spec.Providers);
        provider.BaseUrl = mockOpenAIBaseUrl;
        await client.CustomObjects.CreateNamespacedCustomObjectAsync(virtualKey, WellKnown.Group, WellKnown.Version, Namespace, WellKnown.Plural, cancellationToken: cancellationToken);
        return virtualKey.Metadata.Name;
    }

    private static Task<VirtualKey> WaitForReadyAsync(Kubernetes client, string name, CancellationToken cancellationToken) =>
        Poll.UntilAsync($"virtualkey {Namespace}/{name} Ready=True", ReadyTimeout, async ct =>
        {
            var key = await GetKeyAsync(client, name, ct);
            var ready = key?.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready);
            var done = ready?.Status == "True" && key!.Status!.ObservedGeneration >= key.Metadata.Generation;
            return (done ? key : null, ready is null ? "no Ready condition" : $"Ready={ready.Status} ({ready.Reason}: {ready.Message})");
        }, cancellationToken);

    private static async Task<(string SecretName, string Token)> ReadTokenAsync(Kubernetes client, VirtualKey key, CancellationToken cancellationToken)
    {
        var secretName = key.Status?.TokenSecretName is { Length: > 0 } named ? named : key.GetTokenSecretName();
        var secret = await client.CoreV1.ReadNamespacedSecretAsync(secretName, Namespace, cancellationToken: cancellationToken);
        Assert.NotNull(secret.Data);
        Assert.True(secret.Data.TryGetValue(WellKnown.TokenSecretKey, out var bytes), $"the Secret {secretName} has no {WellKnown.TokenSecretKey}");
        var token = Encoding.UTF8.GetString(bytes);
        Assert.False(string.IsNullOrWhiteSpace(token));
        Assert.Contains(secret.Metadata.OwnerReferences ?? [], owner => owner.Kind == WellKnown.Kind && owner.Uid == key.Metadata.Uid);
        return (secretName, token);
    }

    /// <summary>One chat completion that names no model (the key's default applies); retried only while the sidecar does not know the token yet.</summary>
    private static async Task ChatAsync(Uri sidecar, string token, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = sidecar, Timeout = TimeSpan.FromSeconds(30) };
        await Poll.UntilAsync("a chat completion through the sidecar", ChatTimeout, async ct =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = new StringContent("""{"messages":[{"role":"user","content":"Say hello"}]}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                return (null, $"401: {body}");
            }

            Assert.True(response.StatusCode == HttpStatusCode.OK, $"chat completion answered {(int)response.StatusCode}: {body}");
            return ((object?)body, "200");
        }, cancellationToken);
    }

    private static Task<VirtualKey> WaitForUsageAsync(Kubernetes client, string name, CancellationToken cancellationToken) =>
        Poll.UntilAsync($"status.usage of virtualkey {Namespace}/{name} showing the request and its cost", UsageTimeout, async ct =>
        {
            var key = await GetKeyAsync(client, name, ct);
            var usage = key?.Status?.Usage;
            var done = usage is not null && usage.Requests >= 1 && UsdAmount.TryParse(usage.CostUsd, out var cost) && cost > 0;
            return (done ? key : null, usage is null ? "no status.usage" : $"requests={usage.Requests}, costUsd={usage.CostUsd}");
        }, cancellationToken);

    private static async Task DeleteAndWaitGoneAsync(Kubernetes client, string name, string tokenSecretName, CancellationToken cancellationToken)
    {
        await client.CustomObjects.DeleteNamespacedCustomObjectAsync(WellKnown.Group, WellKnown.Version, Namespace, WellKnown.Plural, name, cancellationToken: cancellationToken);

        // The key carries the operator's finalizer: it is gone only once the operator released it.
        await Poll.UntilAsync($"virtualkey {Namespace}/{name} gone", DeletionTimeout, async ct =>
        {
            var key = await GetKeyAsync(client, name, ct);
            return (key is null ? (object?)true : null, key is null ? "gone" : $"still there, finalizers [{string.Join(", ", key.Metadata.Finalizers ?? [])}]");
        }, cancellationToken);

        // Owned by the key: the garbage collector removes it, asynchronously on a real cluster.
        await Poll.UntilAsync($"secret {Namespace}/{tokenSecretName} garbage-collected", DeletionTimeout, async ct =>
        {
            try
            {
                await client.CoreV1.ReadNamespacedSecretAsync(tokenSecretName, Namespace, cancellationToken: ct);
                return (null, "still there");
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return ((object?)true, "gone");
            }
        }, cancellationToken);
    }

    private static async Task<VirtualKey?> GetKeyAsync(Kubernetes client, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await client.CustomObjects.GetNamespacedCustomObjectAsync<VirtualKey>(WellKnown.Group, WellKnown.Version, Namespace, WellKnown.Plural, name, cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }
}
