using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Prometheus;
using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Kubernetes;
using VirtualKeys.Cli.Running;
using VirtualKeys.LocalCluster;
using VirtualKeys.LocalPostgres;
using VirtualKeys.MockProvider;
using VirtualKeys.Model;
using VirtualKeys.Operator.Hosting;
using VirtualKeys.Operator.Options;
using VirtualKeys.Registry.Protection;

namespace VirtualKeys.Cli.Demo;

/// <summary>
/// <c>vk demo</c> from start to clean-up: PostgreSQL, an API server, the mock provider, the operator
/// and the sidecar in this process; the quickstart key applied and used; its usage read back.
/// Everything started is stopped and every temp directory removed on the way out, Ctrl+C included.
/// </summary>
internal sealed class DemoRunner : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan UsageTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly DemoOptions _options;
    private readonly DemoProgress _progress;
    private readonly TextWriter _stdout;
    private readonly Stack<(string What, Func<ValueTask> Stop)> _started = new();
    // The demo's own files (the KEK, the kubeconfig): inside the throwaway PostgreSQL's directory when
    // the demo starts one, whose watchdog removes it even after a kill of the demo's whole process
    // group; a temp directory of their own with --postgres.
    private string? _folder;
    private k8s.Kubernetes? _client;

    public DemoRunner(DemoOptions options, TextWriter stdout, TextWriter stderr)
    {
        _options = options;
        _stdout = stdout;
        _progress = new DemoProgress(options.Json ? stderr : stdout);
    }

    private string Folder => _folder ?? throw new InvalidOperationException("the demo's folder is made once PostgreSQL is there");

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        _progress.Line("vk demo: a VirtualKey with a default model and an RPM limit, used through the sidecar.");
        var registry = await StartPostgresAsync(cancellationToken);
        _folder ??= Directory.CreateTempSubdirectory("vk-demo-").FullName;
        var kekFile = Path.Combine(_folder, "kek");
        KeyEncryptionKey.WriteNewFile(kekFile);

        var (kubernetes, serverAddress, ns) = await StartKubernetesAsync(cancellationToken);
        var client = _client = new k8s.Kubernetes(kubernetes);
        var mock = await _progress.StepAsync("Starting the mock OpenAI-compatible provider", StartMockProviderAsync, cancellationToken);
        await _progress.StepAsync("Starting the operator (in-process)", () => StartOperatorAsync(registry, kekFile, kubernetes, ns, cancellationToken), cancellationToken);
        var virtualKey = await _progress.StepAsync("Applying examples/quickstart (provider Secret and VirtualKey)", () => ApplyQuickstartAsync(client, ns, mock, cancellationToken), cancellationToken);
        var name = virtualKey.Metadata.Name;
        var ready = await _progress.StepAsync($"Waiting for virtualkey {ns}/{name} to be Ready", () => WaitForReadyAsync(client, ns, name, cancellationToken), cancellationToken);
        var token = await _progress.StepAsync("Reading the token from its Secret", () => ReadTokenAsync(client, ready, cancellationToken), cancellationToken);

        var sidecar = await _progress.StepAsync("Starting the sidecar (in-process)", async () =>
        {
            var running = await SidecarLauncher.StartAsync(registry, kekFile, _options.Verbose, cancellationToken);
            Track("the sidecar", running.Host.DisposeAsync);
            _progress.Detail($"listening on {running.BaseAddress}");
            return running;
        }, cancellationToken);

        // Twice the limit plus one: the limit counts per UTC minute, so if a minute starts mid-burst,
        // one of the two windows still gets more requests than the limit and some are refused.
        var rpm = ready.Spec.Limits?.RequestsPerMinute;
        var count = _options.Requests ?? (2 * (rpm ?? 5)) + 1;
        var outcomes = await _progress.StepAsync(
            $"Sending {count} chat requests without a model through {new Uri(sidecar.BaseAddress, "v1/chat/completions")} (limit: {(rpm is null ? "none" : $"{rpm} per minute")})",
            () => ChatBurst.SendAsync(sidecar.BaseAddress, token, count, Report, cancellationToken),
            cancellationToken);
        var succeeded = outcomes.Count(o => o.Status == 200);
        var limited = outcomes.Count(o => o.Status == 429);

        var synced = await _progress.StepAsync("Waiting for the operator to write usage into the VirtualKey's status", () => WaitForUsageAsync(client, ns, name, succeeded, cancellationToken), cancellationToken);
        var columns = await ShowResourceAsync(client, serverAddress, ns, synced, cancellationToken);

        var models = outcomes.Where(o => o.Model is not null).Select(o => o.Model!).Distinct(StringComparer.Ordinal).ToList();
        _progress.Line();
        _progress.Line($"Every answer came from {(models.Count == 1 ? models[0] : string.Join(", ", models))} (the key's default model: {ready.Spec.DefaultModel}); " +
            $"{limited} request(s) got 429 after the limit of {rpm?.ToString(CultureInfo.InvariantCulture) ?? "-"} per minute.");

        if (_options.Keep)
        {
            await KeepRunningAsync(serverAddress, sidecar, ns, name, cancellationToken);
        }

        if (_options.Json)
        {
            UsdAmount.TryParse(synced.Status?.Usage?.CostUsd, out var cost);
            var summary = new DemoSummary(
                IsReady(ready),
                $"{ns}/{name}",
                outcomes.Count,
                succeeded,
                limited,
                models,
                ready.Spec.DefaultModel,
                synced.Status?.Usage?.Requests ?? 0,
                cost,
                columns);
            _stdout.WriteLine(JsonSerializer.Serialize(summary));
        }

        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        while (_started.TryPop(out var component))
        {
            _progress.Line($"--> stopping {component.What}");
            try
            {
                await component.Stop();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _progress.Detail($"stopping {component.What} failed: {ex.Message}");
            }
        }

        _client?.Dispose();

        try
        {
            // Gone already when it was inside PostgreSQL's directory, which went with PostgreSQL.
            if (_folder is not null && Directory.Exists(_folder))
            {
                Directory.Delete(_folder, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _progress.Detail($"could not remove {_folder}: {ex.Message}");
        }
    }

    private void Track(string what, Func<ValueTask> stop) => _started.Push((what, stop));

    private async Task<string> StartPostgresAsync(CancellationToken cancellationToken)
    {
        if (_options.Postgres is { Length: > 0 } connectionString)
        {
            _progress.Line("==> Using the PostgreSQL server given with --postgres (the registry lives in its schema vk)");
            return connectionString;
        }

        return await _progress.StepAsync("Starting a throwaway PostgreSQL", async () =>
        {
            PostgresCluster postgres;
            try
            {
                postgres = await PostgresCluster.StartNewAsync(directoryPrefix: "vk-demo-pg-", cancellationToken: cancellationToken);
            }
            catch (PostgresBinariesNotFoundException ex)
            {
                throw new CliException($"{ex.Message}, or pass --postgres with a connection string to a server you own", ex);
            }

            Track("PostgreSQL", postgres.DisposeAsync);
            _folder = Directory.CreateDirectory(Path.Combine(postgres.RootDirectory, "demo")).FullName;
            _progress.Detail($"listening on {postgres.Host}:{postgres.Port}, data in {postgres.RootDirectory}");
            return postgres.GetConnectionString();
        }, cancellationToken);
    }

    private async Task<(KubernetesClientConfiguration Configuration, Uri? LocalServer, string Namespace)> StartKubernetesAsync(CancellationToken cancellationToken)
    {
        if (_options.Kubeconfig is { } file)
        {
            return await _progress.StepAsync($"Connecting to the cluster of {file.FullName}", async () =>
            {
                var configuration = KubeconfigLoader.Load(file);
                const string Namespace = "vk-demo";
                using var client = new k8s.Kubernetes(configuration);
                try
                {
                    await CrdInstaller.WaitUntilServedAsync(client, TimeSpan.FromSeconds(1), cancellationToken);
                }
                catch (CliException ex)
                {
                    throw new CliException($"the cluster does not serve {WellKnown.CrdName}: install the CRD first (vk crd | kubectl apply -f -)", ex);
                }

                await EnsureNamespaceAsync(client, Namespace, cancellationToken);
                _progress.Detail($"using namespace {Namespace}; the in-process operator watches only it");
                return (configuration, (Uri?)null, Namespace);
            }, cancellationToken);
        }

        return await _progress.StepAsync("Starting the local Kubernetes API server (in-process) and installing the VirtualKey CRD", async () =>
        {
            var server = await LocalApiServer.StartAsync(new LocalApiServerOptions(), cancellationToken);
            Track("the local API server", server.DisposeAsync);
            using var client = new k8s.Kubernetes(server.CreateClientConfiguration());
            await CrdInstaller.InstallAsync(client, cancellationToken);
            await CrdInstaller.WaitUntilServedAsync(client, TimeSpan.FromSeconds(10), cancellationToken);
            _progress.Detail($"listening on {server.BaseAddress}");
            return (server.CreateClientConfiguration(), (Uri?)server.BaseAddress, "default");
        }, cancellationToken);
    }

    private async Task<MockLlmProvider> StartMockProviderAsync()
    {
        MockLlmProvider mock;
        try
        {
            mock = await MockLlmProvider.StartAsync(new MockLlmProviderOptions { Port = QuickstartManifests.MockProviderPort });
        }
        catch (IOException)
        {
            mock = await MockLlmProvider.StartAsync(new MockLlmProviderOptions());
            _progress.Detail($"port {QuickstartManifests.MockProviderPort} is busy: the key's baseUrl is pointed at {mock.OpenAIBaseUrl} instead");
        }

        Track("the mock provider", mock.DisposeAsync);
        _progress.Detail($"OpenAI API at {mock.OpenAIBaseUrl}");
        return mock;
    }

    private async Task StartOperatorAsync(string registry, string kekFile, KubernetesClientConfiguration kubernetes, string ns, CancellationToken cancellationToken)
    {
        var settings = new OperatorSettings
        {
            RegistryConnectionString = registry,
            RegistryKekFile = kekFile,
            WatchNamespaces = [ns],
            Workers = 2,
            UsageSyncInterval = TimeSpan.FromSeconds(1),
            UsageSyncQps = 20,
            LeaderElectionEnabled = false,
            LeaseNamespace = ns,
            Identity = "vk-demo",
            Urls = "http://127.0.0.1:0",
        };
        var operatorApp = await OperatorApp.BuildAsync(settings, kubernetes, new OperatorAppOptions
        {
            ConfigureLogging = ConfigureLogging,
            MetricsRegistry = Metrics.NewCustomRegistry(),
            DrainTimeout = TimeSpan.FromSeconds(3),
        }, cancellationToken);
        Track("the operator", async () =>
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await operatorApp.StopAsync(timeout.Token);
            await operatorApp.DisposeAsync();
        });
        await operatorApp.StartAsync(cancellationToken);
        _progress.Detail($"registry migrated; watching namespace {ns}");
    }

    private void ConfigureLogging(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        if (_options.Verbose)
        {
            logging.SetMinimumLevel(LogLevel.Information).AddSimpleConsole(console => console.SingleLine = true);
        }
    }

    private async Task<VirtualKey> ApplyQuickstartAsync(IKubernetes client, string ns, MockLlmProvider mock, CancellationToken cancellationToken)
    {
        var (secrets, virtualKey) = QuickstartManifests.Load();
        foreach (var secret in secrets)
        {
            secret.Metadata.NamespaceProperty = ns;
            try
            {
                await client.CoreV1.CreateNamespacedSecretAsync(secret, ns, cancellationToken: cancellationToken);
                _progress.Detail($"secret {ns}/{secret.Metadata.Name} created");
            }
            catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.Conflict))
            {
                var current = await client.CoreV1.ReadNamespacedSecretAsync(secret.Metadata.Name, ns, cancellationToken: cancellationToken);
                secret.Metadata.ResourceVersion = current.Metadata.ResourceVersion;
                await client.CoreV1.ReplaceNamespacedSecretAsync(secret, secret.Metadata.Name, ns, cancellationToken: cancellationToken);
                _progress.Detail($"secret {ns}/{secret.Metadata.Name} configured");
            }
        }

        virtualKey.Metadata.NamespaceProperty = ns;
        QuickstartManifests.UseMockProvider(virtualKey, mock.OpenAIBaseUrl);
        var outcome = await new VirtualKeyApi(client).CreateOrUpdateAsync(virtualKey, cancellationToken);
        _progress.Detail($"virtualkey {ns}/{virtualKey.Metadata.Name} {outcome}: default model {virtualKey.Spec.DefaultModel}, " +
            $"{virtualKey.Spec.Limits?.RequestsPerMinute?.ToString(CultureInfo.InvariantCulture) ?? "no"} requests per minute");
        if (_options.Kubeconfig is not null && !_options.Keep)
        {
            Track($"virtualkey {ns}/{virtualKey.Metadata.Name}", () => DeleteKeyAsync(client, ns, virtualKey.Metadata.Name, secrets));
        }

        return virtualKey;
    }

    private async Task<VirtualKey> WaitForReadyAsync(IKubernetes client, string ns, string name, CancellationToken cancellationToken)
    {
        var api = new VirtualKeyApi(client);
        var deadline = DateTime.UtcNow + ReadyTimeout;
        string? lastReason = null;
        while (true)
        {
            var key = await api.GetAsync(ns, name, cancellationToken);
            var condition = key.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready);
            if (condition is not null && condition.Reason != lastReason)
            {
                lastReason = condition.Reason;
                _progress.Detail($"Ready={condition.Status} ({condition.Reason}){(string.IsNullOrEmpty(condition.Message) ? "" : ": " + condition.Message)}");
            }

            if (IsReady(key) && key.Status?.ObservedGeneration >= key.Metadata.Generation)
            {
                return key;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new CliException(condition is null
                    ? $"the operator did not reconcile virtualkey {ns}/{name} within {ReadyTimeout.TotalSeconds:0}s"
                    : $"virtualkey {ns}/{name} is not Ready after {ReadyTimeout.TotalSeconds:0}s: {condition.Reason}: {condition.Message}");
            }

            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    private async Task<string> ReadTokenAsync(IKubernetes client, VirtualKey key, CancellationToken cancellationToken)
    {
        var ns = key.Metadata.NamespaceProperty;
        var secretName = key.Status?.TokenSecretName is { Length: > 0 } named ? named : key.GetTokenSecretName();
        var secret = await client.CoreV1.ReadNamespacedSecretAsync(secretName, ns, cancellationToken: cancellationToken);
        if (secret.Data is null || !secret.Data.TryGetValue(WellKnown.TokenSecretKey, out var bytes) || bytes.Length == 0)
        {
            throw new CliException($"the Secret {ns}/{secretName} has no {WellKnown.TokenSecretKey}");
        }

        // The token itself is not shown: `vk token` is the one place that prints it.
        _progress.Detail($"secret {ns}/{secretName}, key {WellKnown.TokenSecretKey} (public key id {key.Status?.KeyId})");
        return Encoding.UTF8.GetString(bytes);
    }

    private void Report(ChatOutcome outcome)
    {
        var line = outcome.Status switch
        {
            200 => $"#{outcome.Number,-3} 200  model {outcome.Model}   tokens {outcome.InputTokens} in / {outcome.OutputTokens} out",
            429 => $"#{outcome.Number,-3} 429  {outcome.ErrorCode}   Retry-After: {outcome.RetryAfter ?? "-"}",
            _ => $"#{outcome.Number,-3} {outcome.Status}  {outcome.ErrorCode}",
        };
        _progress.Detail(line);
    }

    private async Task<VirtualKey> WaitForUsageAsync(IKubernetes client, string ns, string name, int succeeded, CancellationToken cancellationToken)
    {
        var api = new VirtualKeyApi(client);
        var deadline = DateTime.UtcNow + UsageTimeout;
        while (true)
        {
            var key = await api.GetAsync(ns, name, cancellationToken);
            var usage = key.Status?.Usage;
            if (usage is not null && usage.Requests >= succeeded && UsdAmount.TryParse(usage.CostUsd, out var cost) && (succeeded == 0 || cost > 0))
            {
                _progress.Detail($"status.usage: {usage.Requests} requests, {usage.InputTokens} input and {usage.OutputTokens} output tokens, ${usage.CostUsd}");
                return key;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new CliException($"status.usage of virtualkey {ns}/{name} did not reach {succeeded} requests within {UsageTimeout.TotalSeconds:0}s (it shows {usage?.Requests ?? 0})");
            }

            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    private async Task<IReadOnlyList<string>> ShowResourceAsync(IKubernetes client, Uri? localServer, string ns, VirtualKey key, CancellationToken cancellationToken)
    {
        _progress.Line();
        string shown;
        IReadOnlyList<string> columns;
        if (localServer is not null)
        {
            // The Table the API server renders from the CRD's printer columns: what kubectl prints.
            _progress.Line($"$ kubectl get vk -n {ns}");
            (columns, var table) = await ServerTable.GetAsync(localServer, ns, cancellationToken);
            using var text = new StringWriter();
            table.Write(text);
            shown = text.ToString();
        }
        else
        {
            var crd = await client.ApiextensionsV1.ReadCustomResourceDefinitionAsync(WellKnown.CrdName, cancellationToken: cancellationToken);
            columns = [.. crd.Spec.Versions.Single(v => v.Storage).AdditionalPrinterColumns?.Select(c => c.Name) ?? []];
            var kubectl = KubectlRunner.Find();
            var printed = kubectl is null
                ? null
                : await KubectlRunner.RunAsync(kubectl, ["--kubeconfig", _options.Kubeconfig!.FullName, "get", "vk", "-n", ns], cancellationToken);
            if (printed is not null)
            {
                _progress.Line($"$ kubectl get vk -n {ns}");
                shown = printed;
            }
            else
            {
                _progress.Line($"$ vk usage -n {ns}    (no kubectl found on PATH)");
                using var text = new StringWriter();
                UsageCommand.Render([key], DateTimeOffset.UtcNow).Write(text);
                shown = text.ToString();
            }
        }

        foreach (var line in shown.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            _progress.Line(line.TrimEnd('\r'));
        }

        return columns;
    }

    private async Task KeepRunningAsync(Uri? localServer, RunningSidecar sidecar, string ns, string name, CancellationToken cancellationToken)
    {
        _progress.Line();
        if (localServer is not null)
        {
            var kubeconfig = Path.Combine(Folder, "kubeconfig");
            await File.WriteAllTextAsync(kubeconfig, LocalKubeconfig(localServer), cancellationToken);
            _progress.Line($"kubeconfig:  {kubeconfig}");
            _progress.Line($"  export KUBECONFIG={kubeconfig}; kubectl get vk -n {ns}; vk usage -n {ns}");
        }

        _progress.Line($"sidecar:     {sidecar.BaseAddress} (OpenAI base URL {new Uri(sidecar.BaseAddress, "v1")})");
        _progress.Line($"token:       vk token {name} -n {ns}");
        _progress.Line("The stack keeps running; press Ctrl+C to stop it and clean up.");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string LocalKubeconfig(Uri server) =>
        $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: vk-demo
          cluster:
            server: "{server.ToString().TrimEnd('/')}"
        users:
        - name: vk-demo
          user: {"{}"}
        contexts:
        - name: vk-demo
          context:
            cluster: vk-demo
            user: vk-demo
            namespace: default
        current-context: vk-demo

        """;

    private static bool IsReady(VirtualKey key) =>
        key.Status?.Conditions?.Any(c => c.Type == ConditionTypes.Ready && c.Status == "True") == true;

    private static async Task EnsureNamespaceAsync(IKubernetes client, string ns, CancellationToken cancellationToken)
    {
        try
        {
            await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } }, cancellationToken: cancellationToken);
        }
        catch (HttpOperationException ex) when (CommandRunner.IsStatus(ex, HttpStatusCode.Conflict))
        {
        }
    }

    // On a real cluster the demo removes what it applied while its operator still runs, so the finalizer is released.
    private static async ValueTask DeleteKeyAsync(IKubernetes client, string ns, string name, IReadOnlyList<V1Secret> secrets)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using (await client.CustomObjects.DeleteNamespacedCustomObjectWithHttpMessagesAsync(WellKnown.Group, WellKnown.Version, ns, WellKnown.Plural, name, body: new V1DeleteOptions(), cancellationToken: timeout.Token))
        {
        }

        var api = new VirtualKeyApi(client);
        while (!timeout.IsCancellationRequested)
        {
            try
            {
                await api.GetAsync(ns, name, timeout.Token);
                await Task.Delay(PollInterval, timeout.Token);
            }
            catch (CliException)
            {
                break;
            }
        }

        foreach (var secret in secrets)
        {
            await client.CoreV1.DeleteNamespacedSecretAsync(secret.Metadata.Name, ns, cancellationToken: timeout.Token);
        }
    }
}
