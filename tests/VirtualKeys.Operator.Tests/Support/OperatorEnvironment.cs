using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Prometheus;
using VirtualKeys.LocalCluster;
using VirtualKeys.Model;
using VirtualKeys.Operator.Hosting;
using VirtualKeys.Operator.Observability;
using VirtualKeys.Operator.Options;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Operator.Tests.Support;

/// <summary>
/// A local API server with the VirtualKey CRD, a fresh registry database and KEK file, and the
/// means to start operator instances against them.
/// </summary>
internal sealed class OperatorEnvironment : IAsyncDisposable
{
    public const string Ns = "default";
    public const string ProviderSecret = "openai-key";
    public const string ProviderKey = "api-key";

    private readonly List<OperatorApp> _apps = [];

    private OperatorEnvironment(LocalApiServer server, string connectionString, string kekPath)
    {
        Server = server;
        Client = new Kubernetes(server.CreateClientConfiguration());
        ConnectionString = connectionString;
        KekPath = kekPath;
    }

    public LocalApiServer Server { get; }

    public IKubernetes Client { get; }

    public string ConnectionString { get; set; }

    public string KekPath { get; }

    /// <param name="bearerToken">
    /// The token the server requires; null for none. A kubeconfig for the operator binary needs one:
    /// the C# client refuses a user without credentials.
    /// </param>
    public static async Task<OperatorEnvironment> StartAsync(PostgresFixture postgres, string hint, string? connectionString = null, string? bearerToken = null)
    {
        var ct = TestContext.Current.CancellationToken;
        var server = await LocalApiServer.StartAsync(new LocalApiServerOptions { BearerToken = bearerToken }, ct);
        connectionString ??= await postgres.CreateDatabaseAsync(hint, ct);
        var kek = Path.Combine(Path.GetTempPath(), "vk-op-kek-" + Guid.NewGuid().ToString("N"));
        KeyEncryptionKey.WriteNewFile(kek);
        var environment = new OperatorEnvironment(server, connectionString, kek);
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(
            await File.ReadAllTextAsync(Path.Combine(ToolPaths.RepositoryRoot, "config/crd/bases/aigateway.dev_virtualkeys.yaml"), ct));
        await environment.Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd, cancellationToken: ct);
        return environment;
    }

    public OperatorSettings Settings(
        TimeSpan? resync = null,
        TimeSpan? grace = null,
        TimeSpan? usageInterval = null,
        bool leaderElection = false,
        string identity = "test-operator",
        TimeSpan? leaseDuration = null,
        string? connectionString = null,
        IReadOnlyList<string>? watchNamespaces = null,
        int orphanSweepLimit = 10) => new()
        {
            WatchNamespaces = watchNamespaces ?? [],
            OrphanSweepLimit = orphanSweepLimit,
            RegistryConnectionString = connectionString ?? ConnectionString,
            RegistryKekFile = KekPath,
            Workers = 2,
            ResyncInterval = resync ?? TimeSpan.FromMinutes(10),
            TokenRotationGrace = grace ?? TimeSpan.FromHours(1),
            UsageSyncInterval = usageInterval ?? TimeSpan.FromMilliseconds(200),
            UsageSyncQps = 50,
            LeaderElectionEnabled = leaderElection,
            LeaseNamespace = Ns,
            LeaseName = "virtual-key-operator",
            Identity = identity,
            // The default 15 s: a short lease ends a term on one slow renewal under load. Tests
            // hand over by stopping the leader, which releases the lease, so none waits it out.
            LeaseDuration = leaseDuration ?? TimeSpan.FromSeconds(15),
            Urls = "http://127.0.0.1:0",
        };

    /// <summary>Builds and starts an operator; waits for its caches.</summary>
    public async Task<RunningOperator> StartOperatorAsync(OperatorSettings? settings = null, IExternalCallObserver? observer = null, bool waitForSync = true)
    {
        var writes = new WriteCounter();
        var calls = observer ?? new CallLog();
        var app = await OperatorApp.BuildAsync(
            settings ?? Settings(),
            Server.CreateClientConfiguration(),
            new OperatorAppOptions
            {
                ConfigureLogging = _ => { },
                MetricsRegistry = Metrics.NewCustomRegistry(),
                KubernetesHandlers = [writes],
                CallObserver = calls,
                DrainTimeout = TimeSpan.FromSeconds(5),
            },
            TestContext.Current.CancellationToken);
        _apps.Add(app);
        await app.StartAsync(TestContext.Current.CancellationToken);
        if (waitForSync)
        {
            await Waits.UntilAsync(() => app.HasSynced, "the operator's caches synced");
        }

        return new RunningOperator(app, writes, calls as CallLog);
    }

    public async Task StopAsync(RunningOperator running)
    {
        await running.App.StopAsync(CancellationToken.None);
        await running.App.DisposeAsync();
        _apps.Remove(running.App);
    }

    public Task<V1Secret> CreateProviderSecretAsync(string value, string name = ProviderSecret, string key = ProviderKey) =>
        Client.CoreV1.CreateNamespacedSecretAsync(
            new V1Secret { Metadata = new V1ObjectMeta { Name = name }, Data = new Dictionary<string, byte[]> { [key] = Encoding.UTF8.GetBytes(value) } },
            Ns,
            cancellationToken: TestContext.Current.CancellationToken);

    public async Task UpdateProviderSecretAsync(string value, string name = ProviderSecret, string key = ProviderKey)
    {
        var secret = await Client.CoreV1.ReadNamespacedSecretAsync(name, Ns, cancellationToken: TestContext.Current.CancellationToken);
        secret.Data = new Dictionary<string, byte[]> { [key] = Encoding.UTF8.GetBytes(value) };
        await Client.CoreV1.ReplaceNamespacedSecretAsync(secret, name, Ns, cancellationToken: TestContext.Current.CancellationToken);
    }

    public static VirtualKey NewKey(string name, Action<VirtualKeySpec>? edit = null)
    {
        var key = new VirtualKey
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns },
            Spec = new VirtualKeySpec
            {
                Providers =
                [
                    new ProviderSpec { Name = "openai", Type = ProviderType.OpenAI, SecretRef = new SecretKeyRef { Name = ProviderSecret, Key = ProviderKey } },
                ],
                DefaultModel = "gpt-4o-mini",
                Limits = new RateLimits { RequestsPerMinute = 60 },
            },
        };
        edit?.Invoke(key.Spec);
        return key;
    }

    public Task<VirtualKey> CreateKeyAsync(string name, Action<VirtualKeySpec>? edit = null) =>
        CreateKeyAsync(NewKey(name, edit));

    public Task<VirtualKey> CreateKeyAsync(VirtualKey key) =>
        Client.CustomObjects.CreateNamespacedCustomObjectAsync<VirtualKey>(
            key, WellKnown.Group, WellKnown.Version, Ns, WellKnown.Plural, cancellationToken: TestContext.Current.CancellationToken);

    public async Task<VirtualKey?> GetKeyAsync(string name)
    {
        try
        {
            return await Client.CustomObjects.GetNamespacedCustomObjectAsync<VirtualKey>(
                WellKnown.Group, WellKnown.Version, Ns, WellKnown.Plural, name, TestContext.Current.CancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<VirtualKey> UpdateKeyAsync(string name, Action<VirtualKey> edit)
    {
        for (var attempt = 0; ; attempt++)
        {
            var key = await GetKeyAsync(name) ?? throw new InvalidOperationException($"VirtualKey {name} not found.");
            edit(key);
            try
            {
                return await Client.CustomObjects.ReplaceNamespacedCustomObjectAsync<VirtualKey>(
                    key, WellKnown.Group, WellKnown.Version, Ns, WellKnown.Plural, name, cancellationToken: TestContext.Current.CancellationToken);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Conflict && attempt < 10)
            {
            }
        }
    }

    public Task DeleteKeyAsync(string name) =>
        Client.CustomObjects.DeleteNamespacedCustomObjectAsync(
            WellKnown.Group, WellKnown.Version, Ns, WellKnown.Plural, name, cancellationToken: TestContext.Current.CancellationToken);

    public async Task<V1Secret?> GetSecretAsync(string name)
    {
        try
        {
            return await Client.CoreV1.ReadNamespacedSecretAsync(name, Ns, cancellationToken: TestContext.Current.CancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public Task<VirtualKey> WaitForReadyReasonAsync(string name, string reason, Func<VirtualKey, bool>? also = null, TimeSpan? bound = null) =>
        Waits.UntilAsync(
            () => GetKeyAsync(name),
            k => ReadyOf(k)?.Reason == reason && (also?.Invoke(k) ?? true),
            k => $"VirtualKey {name} to have Ready reason {reason}; it has {ReadyOf(k)?.Reason ?? "none"}: {ReadyOf(k)?.Message}",
            bound);

    public static V1Condition? ReadyOf(VirtualKey? key) => key?.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready);

    public static V1Condition? ConditionOf(VirtualKey? key, string type) => key?.Status?.Conditions?.FirstOrDefault(c => c.Type == type);

    public async Task<IReadOnlyList<Corev1Event>> EventsForAsync(string name) =>
        [.. (await Client.CoreV1.ListNamespacedEventAsync(Ns, cancellationToken: TestContext.Current.CancellationToken)).Items
            .Where(e => e.InvolvedObject?.Name == name)];

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps.ToList())
        {
            try
            {
                await app.StopAsync(CancellationToken.None);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Best effort: the test has already failed or finished.
            }

            await app.DisposeAsync();
        }

        Client.Dispose();
        await Server.DisposeAsync();
        File.Delete(KekPath);
    }
}
