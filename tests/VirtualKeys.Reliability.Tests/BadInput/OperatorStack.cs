using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Prometheus;
using VirtualKeys.LocalCluster;
using VirtualKeys.Operator.Hosting;
using VirtualKeys.Operator.Options;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Reliability.Tests.BadInput;

/// <summary>
/// The local API server with the committed CRD, a fresh registry database on the real PostgreSQL, and
/// one operator against them whose logs are kept. Manifests go in as JSON over plain HTTP, as kubectl
/// sends them; reads come back as JSON, so an object the C# model could not even deserialize is still
/// readable.
/// </summary>
internal sealed class OperatorStack : IAsyncDisposable
{
    public const string Ns = "default";

    private readonly PostgresFixture _postgres;
    private readonly string _connectionString;
    private readonly string _kekPath;

    private OperatorStack(PostgresFixture postgres, LocalApiServer server, string connectionString, string kekPath, OperatorApp app, CapturedLogs logs)
    {
        _postgres = postgres;
        Server = server;
        _connectionString = connectionString;
        _kekPath = kekPath;
        App = app;
        Logs = logs;
        Client = new Kubernetes(server.CreateClientConfiguration());
        Http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (server.CreateClientConfiguration().AccessToken is { } token)
        {
            Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public LocalApiServer Server { get; }

    public OperatorApp App { get; }

    public CapturedLogs Logs { get; }

    public IKubernetes Client { get; }

    public HttpClient Http { get; }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public string ConnectionString => _connectionString;

    public string KekPath => _kekPath;

    /// <param name="bearerToken">Makes the API server demand this token, as a real cluster demands credentials.</param>
    /// <param name="tokenRotationGrace">How long a rotated-away token keeps working.</param>
    public static async Task<OperatorStack> StartAsync(PostgresFixture postgres, string hint, string? bearerToken = null, TimeSpan? tokenRotationGrace = null)
    {
        var server = await LocalApiServer.StartAsync(new LocalApiServerOptions { BearerToken = bearerToken }, Cancel);
        var connectionString = await postgres.CreateDatabaseAsync(hint, Cancel);
        var kek = Path.Combine(Path.GetTempPath(), "vk-reliability-kek-" + Guid.NewGuid().ToString("N"));
        KeyEncryptionKey.WriteNewFile(kek);
        using (var client = new Kubernetes(server.CreateClientConfiguration()))
        {
            var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(
                await File.ReadAllTextAsync(Path.Combine(ToolPaths.RepositoryRoot, "config/crd/bases/aigateway.dev_virtualkeys.yaml"), Cancel));
            await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd, cancellationToken: Cancel);
        }

        var logs = new CapturedLogs();
        var settings = new OperatorSettings
        {
            RegistryConnectionString = connectionString,
            RegistryKekFile = kek,
            Workers = 2,
            UsageSyncInterval = TimeSpan.FromSeconds(1),
            TokenRotationGrace = tokenRotationGrace ?? TimeSpan.FromHours(1),
            LeaderElectionEnabled = false,
            Identity = "reliability-operator",
            Urls = "http://127.0.0.1:0",
        };
        var app = await OperatorApp.BuildAsync(
            settings,
            server.CreateClientConfiguration(),
            new OperatorAppOptions
            {
                ConfigureLogging = logging =>
                {
                    logging.SetMinimumLevel(LogLevel.Debug);
                    logging.AddProvider(logs);
                },
                MetricsRegistry = Metrics.NewCustomRegistry(),
                DrainTimeout = TimeSpan.FromSeconds(5),
            },
            Cancel);
        await app.StartAsync(Cancel);
        var stack = new OperatorStack(postgres, server, connectionString, kek, app, logs);
        await Until(() => Task.FromResult(app.HasSynced), "the operator's caches synced", TimeSpan.FromSeconds(30));
        return stack;
    }

    public async Task CreateNamespaceAsync(string name) =>
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name } }, cancellationToken: Cancel);

    public async Task CreateSecretAsync(string ns, string name, IReadOnlyDictionary<string, string> data) =>
        await Client.CoreV1.CreateNamespacedSecretAsync(
            new V1Secret
            {
                Metadata = new V1ObjectMeta { Name = name },
                Data = data.ToDictionary(d => d.Key, d => Encoding.UTF8.GetBytes(d.Value)),
            },
            ns,
            cancellationToken: Cancel);

    /// <summary>Creates a VirtualKey from JSON with strict field validation (kubectl's default); the raw answer.</summary>
    public async Task<(int Status, string Body)> CreateKeyAsync(JsonObject manifest, string ns = Ns)
    {
        using var content = new StringContent(manifest.ToJsonString(), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await Http.PostAsync($"apis/aigateway.dev/v1alpha1/namespaces/{ns}/virtualkeys?fieldValidation=Strict", content, Cancel);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(Cancel));
    }

    /// <summary>The stored VirtualKey as JSON; null when it does not exist.</summary>
    public async Task<JsonObject?> GetKeyAsync(string name, string ns = Ns)
    {
        using var response = await Http.GetAsync($"apis/aigateway.dev/v1alpha1/namespaces/{ns}/virtualkeys/{Uri.EscapeDataString(name)}", Cancel);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(Cancel)) as JsonObject;
    }

    /// <summary>The Ready condition of a stored key as JSON; null when it has none yet.</summary>
    public static JsonObject? ReadyOf(JsonObject? key) =>
        key?["status"]?["conditions"] is JsonArray conditions
            ? conditions.OfType<JsonObject>().FirstOrDefault(c => c["type"]?.GetValue<string>() == "Ready")
            : null;

    public async Task<string> EventsTextAsync(string name, string ns = Ns)
    {
        var events = await Client.CoreV1.ListNamespacedEventAsync(ns, cancellationToken: Cancel);
        return string.Join('\n', events.Items.Where(e => e.InvolvedObject?.Name == name).Select(e => $"{e.Type} {e.Reason}: {e.Message} (x{e.Count})"));
    }

    public static async Task Until(Func<Task<bool>> condition, string what, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {bound.TotalSeconds:0}s waiting until {what}.");
            }

            await Task.Delay(50, Cancel);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await App.StopAsync(CancellationToken.None);
        }
        finally
        {
            await App.DisposeAsync();
            Http.Dispose();
            Client.Dispose();
            await Server.DisposeAsync();
            File.Delete(_kekPath);
            await RegistryTables.ObserveAsync(_connectionString, "in-process operator", CancellationToken.None);
            await _postgres.DropDatabaseAsync(_connectionString);
        }
    }
}
