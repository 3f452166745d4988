using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using VirtualKeys.LocalCluster.Tests.Backends;
using VirtualKeys.Testing;

namespace VirtualKeys.LocalCluster.Tests.Kubectl;

/// <summary>The real kubectl v1.35 against the local server: what a developer types in the demo.</summary>
public sealed class KubectlTests : IAsyncLifetime
{
    private const string Manifests = """
        apiVersion: v1
        kind: Secret
        metadata:
          name: provider-key
        stringData:
          apiKey: sk-test
        ---
        apiVersion: test.vk.dev/v1
        kind: Widget
        metadata:
          name: demo
        spec:
          color: red
          replicas: 2
        """;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "vk-kubectl-" + Guid.NewGuid().ToString("N")[..8]);
    private LocalApiServer _server = null!;
    private Kubernetes _client = null!;
    private KubectlRunner _kubectl = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        _server = await LocalApiServer.StartAsync(cancellationToken: Token);
        var kubeconfig = Path.Combine(_folder, "kubeconfig");
        _server.WriteKubeconfig(kubeconfig);
        _client = new Kubernetes(_server.CreateClientConfiguration());
        _kubectl = new KubectlRunner(kubeconfig, Path.Combine(_folder, "cache"));
        await File.WriteAllTextAsync(Path.Combine(_folder, "crd.json"), TestCrds.WidgetCrd, Token);
        await File.WriteAllTextAsync(Path.Combine(_folder, "objects.yaml"), Manifests, Token);
        Assert.Contains("created", await _kubectl.SucceedAsync("apply", "-f", Path.Combine(_folder, "crd.json")), StringComparison.Ordinal);
        var applied = await _kubectl.SucceedAsync("apply", "-f", Path.Combine(_folder, "objects.yaml"));
        Assert.Contains("secret/provider-key created", applied, StringComparison.Ordinal);
        Assert.Contains("widget.test.vk.dev/demo created", applied, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Apply_creates_then_reapply_of_a_changed_manifest_patches()
    {
        Assert.Contains("unchanged", await _kubectl.SucceedAsync("apply", "-f", Path.Combine(_folder, "objects.yaml")), StringComparison.Ordinal);
        var changed = Manifests.Replace("color: red", "color: blue", StringComparison.Ordinal).Replace("sk-test", "sk-other", StringComparison.Ordinal);
        await File.WriteAllTextAsync(Path.Combine(_folder, "changed.yaml"), changed, Token);
        var output = await _kubectl.SucceedAsync("apply", "-f", Path.Combine(_folder, "changed.yaml"));
        Assert.Contains("widget.test.vk.dev/demo configured", output, StringComparison.Ordinal);
        var secret = await _client.CoreV1.ReadNamespacedSecretAsync("provider-key", "default", cancellationToken: Token);
        Assert.Equal("sk-other", Encoding.UTF8.GetString(secret.Data["apiKey"]));
        Assert.Contains("blue", await _kubectl.SucceedAsync("get", "wg", "demo", "-o", "jsonpath={.spec.color}"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_prints_the_CRD_printer_columns()
    {
        var output = await _kubectl.SucceedAsync("get", "widgets");
        var header = output.Split('\n')[0];
        Assert.Matches(@"^NAME\s+COLOR\s+REPLICAS\s+READY\s+AGE", header);
        Assert.Matches(@"demo\s+\w+\s+2\s+", output);
    }

    [Fact]
    public async Task Get_o_yaml_shows_the_stored_object_with_server_fields()
    {
        var output = await _kubectl.SucceedAsync("get", "widget", "demo", "-o", "yaml");
        Assert.Contains("kind: Widget", output, StringComparison.Ordinal);
        Assert.Contains("uid:", output, StringComparison.Ordinal);
        Assert.Contains("resourceVersion:", output, StringComparison.Ordinal);
        Assert.Contains("generation:", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Patch_merge_changes_the_object()
    {
        Assert.Contains("patched", await _kubectl.SucceedAsync("patch", "wg", "demo", "--type=merge", "-p", """{"spec":{"replicas":5}}"""), StringComparison.Ordinal);
        var (code, _, error) = await _kubectl.RunAsync(["patch", "wg", "demo", "--type=merge", "-p", """{"spec":{"replicas":-3}}"""]);
        Assert.NotEqual(0, code);
        Assert.Contains("should be greater than or equal to 0", error, StringComparison.Ordinal);
        var widget = await _client.CustomObjects.GetNamespacedCustomObjectAsync<JsonObject>(TestCrds.Group, TestCrds.Version, "default", TestCrds.Widgets, "demo", Token);
        Assert.Equal(5, (int)widget["spec"]!["replicas"]!);
    }

    [Fact]
    public async Task Wait_for_condition_returns_once_another_client_sets_it()
    {
        var watchesBefore = _server.OpenWatchCount;
        var wait = _kubectl.RunAsync(["wait", "--for=condition=Ready", "widget/demo", "--timeout=30s"], timeoutSeconds: 45);

        // Set the condition only once kubectl watches: set earlier, kubectl's first read would already
        // find it, and the watch that must deliver it would go untested.
        await WaitUntilAsync(() => Task.FromResult(_server.OpenWatchCount > watchesBefore || wait.IsCompleted), "kubectl wait watching the widget");
        if (wait.IsCompleted)
        {
            var (early, earlyOutput, earlyError) = await wait;
            Assert.Fail($"kubectl wait exited {early} before the condition was set: {earlyError}{earlyOutput}");
        }

        var patch = new V1Patch("""{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Reconciled"}]}}""", V1Patch.PatchType.MergePatch);
        await _client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(patch, TestCrds.Group, TestCrds.Version, "default", TestCrds.Widgets, "demo", cancellationToken: Token);
        var (code, output, error) = await wait;
        Assert.True(code == 0, error);
        Assert.Contains("condition met", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_waits_until_another_client_removes_the_finalizer()
    {
        await _kubectl.SucceedAsync("patch", "wg", "demo", "--type=merge", "-p", """{"metadata":{"finalizers":["test.vk.dev/cleanup"]}}""");
        var delete = _kubectl.RunAsync(["delete", "widget", "demo", "--timeout=30s"], timeoutSeconds: 45);
        await WaitUntilAsync(async () => (await _client.CustomObjects.GetNamespacedCustomObjectAsync<JsonObject>(TestCrds.Group, TestCrds.Version, "default", TestCrds.Widgets, "demo", Token))["metadata"]!["deletionTimestamp"] is not null);
        Assert.False(delete.IsCompleted, "kubectl delete returned while the finalizer still held the object");
        var patch = new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch);
        await _client.CustomObjects.PatchNamespacedCustomObjectAsync(patch, TestCrds.Group, TestCrds.Version, "default", TestCrds.Widgets, "demo", cancellationToken: Token);
        var (code, output, error) = await delete;
        Assert.True(code == 0, error);
        Assert.Contains("deleted", output, StringComparison.Ordinal);
        var (getCode, _, getError) = await _kubectl.RunAsync(["get", "widget", "demo"]);
        Assert.NotEqual(0, getCode);
        Assert.Contains("NotFound", getError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_events_lists_events_recorded_by_another_client()
    {
        await _client.EventsV1.CreateNamespacedEventAsync(new Eventsv1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = "demo." },
            EventTime = DateTime.UtcNow,
            ReportingController = "test.vk.dev/controller",
            ReportingInstance = "controller-0",
            Action = "Reconcile",
            Reason = "TokenIssued",
            Type = "Normal",
            Note = "issued a token",
            Regarding = new V1ObjectReference { Kind = "Widget", Name = "demo", NamespaceProperty = "default", ApiVersion = "test.vk.dev/v1" },
        }, "default", cancellationToken: Token);
        var output = await _kubectl.SucceedAsync("get", "events");
        Assert.Contains("TokenIssued", output, StringComparison.Ordinal);
        Assert.Contains("widget/demo", output, StringComparison.Ordinal);
        Assert.Contains("issued a token", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_projects_VirtualKey_CRD_applies_and_is_served()
    {
        var crd = Path.Combine(ToolPaths.RepositoryRoot, "config", "crd", "bases", "aigateway.dev_virtualkeys.yaml");
        Assert.True(File.Exists(crd), $"{crd} is missing: the project's VirtualKey CRD is committed at this path (moved or renamed?)");

        Assert.Contains("created", await _kubectl.SucceedAsync("apply", "-f", crd), StringComparison.Ordinal);
        var (code, output, error) = await _kubectl.RunAsync(["get", "vk"]);
        Assert.True(code == 0, error);
        Assert.Contains("No resources found", output + error, StringComparison.Ordinal);
        Assert.Contains("virtualkeys", await _kubectl.SucceedAsync("api-resources", "--api-group=aigateway.dev"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_secret_configmap_and_namespace_work_though_kubectl_sends_them_as_protobuf()
    {
        Assert.Contains("namespace/team-b created", await _kubectl.SucceedAsync("create", "namespace", "team-b"), StringComparison.Ordinal);
        Assert.Contains(
            "secret/openai-key created",
            await _kubectl.SucceedAsync("create", "secret", "generic", "openai-key", "-n", "team-b", "--from-literal=api-key=sk-fake-1", "--from-literal=org=acme"),
            StringComparison.Ordinal);
        await _kubectl.SucceedAsync("label", "secret", "openai-key", "-n", "team-b", "team=b");
        Assert.Contains("configmap/settings created", await _kubectl.SucceedAsync("create", "configmap", "settings", "--from-literal=region=eu"), StringComparison.Ordinal);

        var ns = await _client.CoreV1.ReadNamespaceAsync("team-b", cancellationToken: Token);
        Assert.Equal("Active", ns.Status?.Phase);
        var secret = await _client.CoreV1.ReadNamespacedSecretAsync("openai-key", "team-b", cancellationToken: Token);
        Assert.Equal("Opaque", secret.Type);
        Assert.Equal("sk-fake-1", Encoding.UTF8.GetString(secret.Data["api-key"]));
        Assert.Equal("acme", Encoding.UTF8.GetString(secret.Data["org"]));
        Assert.Equal("b", secret.Metadata.Labels["team"]);
        var configMap = await _client.CoreV1.ReadNamespacedConfigMapAsync("settings", "default", cancellationToken: Token);
        Assert.Equal("eu", configMap.Data["region"]);

        // A second create of the same name is refused as a real server does.
        var (code, _, error) = await _kubectl.RunAsync(["create", "secret", "generic", "openai-key", "-n", "team-b", "--from-literal=api-key=sk-fake-2"]);
        Assert.NotEqual(0, code);
        Assert.Contains("secrets \"openai-key\" already exists", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_protobuf_body_is_a_400_and_protobuf_for_a_custom_resource_a_415()
    {
        using var http = new HttpClient { BaseAddress = _server.BaseAddress };
        using var garbage = new ByteArrayContent([(byte)'k', (byte)'8', (byte)'s', 0, 0x0a, 0xff, 0xff, 0xff]);
        garbage.Headers.ContentType = new("application/vnd.kubernetes.protobuf");
        using var bad = await http.PostAsync("api/v1/namespaces/default/secrets", garbage, Token);
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Equal("BadRequest", JsonNode.Parse(await bad.Content.ReadAsStringAsync(Token))?["reason"]?.GetValue<string>());

        using var widget = new ByteArrayContent([(byte)'k', (byte)'8', (byte)'s', 0]);
        widget.Headers.ContentType = new("application/vnd.kubernetes.protobuf");
        using var unsupported = await http.PostAsync("apis/test.vk.dev/v1/namespaces/default/widgets", widget, Token);
        Assert.Equal(415, (int)unsupported.StatusCode);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what = "condition")
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: not reached within 20s");
            await Task.Delay(100, Token);
        }
    }
}
