using System.Net;
using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;
using VirtualKeys.LocalCluster;
using VirtualKeys.Model;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>
/// What the operator processes run against: a local API server with the VirtualKey CRD, a
/// kubeconfig file for it, a fresh registry database and KEK file; plus the test's own client and
/// registry handle, used to drive changes and to check the outcome.
/// </summary>
internal sealed class ChaosCluster : IAsyncDisposable
{
    public const string Ns = "default";
    public const string ProviderKeyField = "api-key";

    private readonly List<OperatorProcess> _operators = [];

    private ChaosCluster(LocalApiServer server, string connectionString, string directory, VirtualKeyRegistry registry)
    {
        Server = server;
        Client = new Kubernetes(server.CreateClientConfiguration());
        ConnectionString = connectionString;
        Directory = directory;
        Registry = registry;
        Tokens = new IssuedTokenTracker(server);
    }

    /// <summary>Every token the operators wrote into a Secret during the run, each handed to the ledger.</summary>
    public IssuedTokenTracker Tokens { get; }

    public LocalApiServer Server { get; }

    public IKubernetes Client { get; }

    public string ConnectionString { get; }

    /// <summary>A private folder for the kubeconfig and the KEK file.</summary>
    public string Directory { get; }

    public string KekPath => Path.Combine(Directory, "kek");

    public string Kubeconfig => Path.Combine(Directory, "kubeconfig");

    /// <summary>The test's own view of the registry the operators write.</summary>
    public VirtualKeyRegistry Registry { get; }

    public static async Task<ChaosCluster> StartAsync(PostgresFixture postgres, string hint, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(Path.GetTempPath(), "vk-chaos-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        // The official client refuses a kubeconfig user without credentials, so the server gets a bearer token.
        var server = await LocalApiServer.StartAsync(new LocalApiServerOptions { BearerToken = "chaos-" + Guid.NewGuid().ToString("N") }, cancellationToken);
        try
        {
            server.WriteKubeconfig(Path.Combine(directory, "kubeconfig"));
            KeyEncryptionKey.WriteNewFile(Path.Combine(directory, "kek"));
            var connectionString = await postgres.CreateDatabaseAsync(hint, cancellationToken);
            var registry = await VirtualKeyRegistry.OpenAsync(connectionString, Path.Combine(directory, "kek"), TimeProvider.System, null, cancellationToken);
            var cluster = new ChaosCluster(server, connectionString, directory, registry);
            var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(
                await File.ReadAllTextAsync(Path.Combine(ToolPaths.RepositoryRoot, "config/crd/bases/aigateway.dev_virtualkeys.yaml"), cancellationToken));
            await cluster.Client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd, cancellationToken: cancellationToken);
            return cluster;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts an operator process; <paramref name="kubeconfig"/> defaults to the API server's own.</summary>
    public OperatorProcess StartOperator(string identity, OperatorKnobs knobs, string? kubeconfig = null)
    {
        var environment = knobs.ToEnvironment();
        environment["Registry__ConnectionString"] = ConnectionString;
        environment["Registry__KekFile"] = KekPath;
        environment["Kubernetes__Kubeconfig"] = kubeconfig ?? Kubeconfig;
        var process = OperatorProcess.Start(identity, environment);
        _operators.Add(process);
        return process;
    }

    /// <summary>A provider Secret holding <paramref name="value"/> (tracked by the ledger).</summary>
    public async Task PutProviderSecretAsync(string name, string value, CancellationToken cancellationToken)
    {
        SecretLedger.Track(value);
        var secret = new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns },
            Data = new Dictionary<string, byte[]> { [ProviderKeyField] = Encoding.UTF8.GetBytes(value) },
        };
        try
        {
            await Client.CoreV1.CreateNamespacedSecretAsync(secret, Ns, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            var patch = new V1Patch(
                $$$"""{"data":{"{{{ProviderKeyField}}}":"{{{Convert.ToBase64String(Encoding.UTF8.GetBytes(value))}}}"} }""",
                V1Patch.PatchType.MergePatch);
            await Client.CoreV1.PatchNamespacedSecretAsync(patch, name, Ns, cancellationToken: cancellationToken);
        }
    }

    public static VirtualKey NewKey(string name, string providerSecret, int requestsPerMinute) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Ns },
        Spec = new VirtualKeySpec
        {
            Providers =
            [
                new ProviderSpec { Name = "openai", Type = ProviderType.OpenAI, SecretRef = new SecretKeyRef { Name = providerSecret, Key = ProviderKeyField } },
            ],
            DefaultModel = "gpt-4o-mini",
            Limits = new RateLimits { RequestsPerMinute = requestsPerMinute },
        },
    };

    public Task<VirtualKey> CreateKeyAsync(VirtualKey key, CancellationToken cancellationToken) =>
        Client.CustomObjects.CreateNamespacedCustomObjectAsync<VirtualKey>(
            key, WellKnown.Group, WellKnown.Version, Ns, WellKnown.Plural, cancellationToken: cancellationToken);

    /// <summary>A JSON merge patch of the key (no resourceVersion, so the operator's own writes never conflict with it).</summary>
    public Task<VirtualKey> PatchKeyAsync(string name, string mergePatch, CancellationToken cancellationToken) =>
        Client.CustomObjects.PatchNamespacedCustomObjectAsync<VirtualKey>(
            new V1Patch(mergePatch, V1Patch.PatchType.MergePatch), WellKnown.Group, WellKnown.Version, Ns, WellKnown.Plural, name, cancellationToken: cancellationToken);

    public Task DeleteKeyAsync(string name, CancellationToken cancellationToken) =>
        Client.CustomObjects.DeleteNamespacedCustomObjectAsync(
            WellKnown.Group, WellKnown.Version, Ns, WellKnown.Plural, name, cancellationToken: cancellationToken);

    public async Task<IReadOnlyList<VirtualKey>> ListKeysAsync(CancellationToken cancellationToken)
    {
        var list = await Client.CustomObjects.ListNamespacedCustomObjectAsync<VirtualKeyList>(
            WellKnown.Group, WellKnown.Version, Ns, WellKnown.Plural, cancellationToken: cancellationToken);
        return [.. list.Items];
    }

    public async Task<IReadOnlyList<V1Secret>> ListSecretsAsync(CancellationToken cancellationToken) =>
        [.. (await Client.CoreV1.ListNamespacedSecretAsync(Ns, cancellationToken: cancellationToken)).Items];

    /// <summary>
    /// Hands the outputs a user or an auditor would see to the ledger: Events, statuses, Leases,
    /// Secrets that are neither token nor provider Secrets, the operators' metrics, and the registry.
    /// </summary>
    public async Task ObserveOutputsAsync(IReadOnlyCollection<string> providerSecretNames, CancellationToken cancellationToken)
    {
        var events = await Client.CoreV1.ListNamespacedEventAsync(Ns, cancellationToken: cancellationToken);
        SecretLedger.Observe("Events", KubernetesJson.Serialize(events));
        foreach (var key in await ListKeysAsync(cancellationToken))
        {
            SecretLedger.Observe($"VirtualKey {key.Metadata.Name} metadata and status", KubernetesJson.Serialize(new { key.Metadata, key.Status }));
        }

        var leases = await Client.CoordinationV1.ListNamespacedLeaseAsync(Ns, cancellationToken: cancellationToken);
        SecretLedger.Observe("Leases", KubernetesJson.Serialize(leases));
        foreach (var secret in await ListSecretsAsync(cancellationToken))
        {
            var isToken = secret.Metadata.Labels?.ContainsKey(ConvergenceCheck.TokenSecretLabel) == true;
            if (!isToken && !providerSecretNames.Contains(secret.Metadata.Name))
            {
                SecretLedger.Observe($"Secret {secret.Metadata.Name}", KubernetesJson.Serialize(secret));
            }
        }

        foreach (var process in _operators.Where(p => !p.HasExited))
        {
            SecretLedger.Observe($"operator {process.Identity} /metrics", await process.TryGetAsync("/metrics", cancellationToken));
        }

        await RegistryTables.ObserveAsync(ConnectionString, "chaos cluster", cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _operators)
        {
            await process.DisposeAsync();
        }

        Tokens.Dispose();
        Client.Dispose();
        await Registry.DisposeAsync();
        await Server.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}
