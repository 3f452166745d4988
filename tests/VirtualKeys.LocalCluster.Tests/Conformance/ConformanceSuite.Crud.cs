using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using VirtualKeys.LocalCluster.Tests.Backends;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public abstract partial class ConformanceSuite<TBackend>
{
    [Fact]
    public async Task Create_fills_uid_creationTimestamp_and_a_cluster_wide_increasing_resourceVersion()
    {
        await using var s = await SessionAsync();
        var first = await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "one" }, Data = new Dictionary<string, string> { ["a"] = "1" } }, s.Namespace, cancellationToken: Token);
        var second = await s.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "two" } }, s.Namespace, cancellationToken: Token);
        Assert.False(string.IsNullOrEmpty(first.Metadata.Uid));
        Assert.NotEqual(first.Metadata.Uid, second.Metadata.Uid);
        Assert.NotNull(first.Metadata.CreationTimestamp);
        Assert.True(Rv(second.Metadata) > Rv(first.Metadata));

        first.Data["b"] = "2";
        var updated = await s.Client.CoreV1.ReplaceNamespacedConfigMapAsync(first, "one", s.Namespace, cancellationToken: Token);
        Assert.True(Rv(updated.Metadata) > Rv(second.Metadata));
        Assert.Equal(first.Metadata.Uid, updated.Metadata.Uid);
        Assert.Equal("2", (await s.Client.CoreV1.ReadNamespacedConfigMapAsync("one", s.Namespace, cancellationToken: Token)).Data["b"]);
    }

    [Fact]
    public async Task Creating_an_existing_name_is_409_AlreadyExists()
    {
        await using var s = await SessionAsync();
        var secret = new V1Secret { Metadata = new V1ObjectMeta { Name = "dup" } };
        await s.Client.CoreV1.CreateNamespacedSecretAsync(secret, s.Namespace, cancellationToken: Token);
        var status = await AssertFailsAsync(HttpStatusCode.Conflict, () => s.Client.CoreV1.CreateNamespacedSecretAsync(secret, s.Namespace, cancellationToken: Token));
        Assert.Equal("AlreadyExists", status.Reason);
        Assert.Equal("dup", status.Details.Name);
        Assert.Equal("secrets", status.Details.Kind);
    }

    [Fact]
    public async Task Reading_a_missing_object_is_404_NotFound_naming_it()
    {
        await using var s = await SessionAsync();
        var response = (await s.GetAsync($"{s.WidgetsPath}/nope")).AssertStatus(404, "NotFound");
        Assert.Equal("widgets.test.vk.dev \"nope\" not found", response.Message);
        Assert.Equal("nope", (string?)response.Json!["details"]!["name"]);
        Assert.Equal(TestCrds.Group, (string?)response.Json!["details"]!["group"]);
    }

    [Fact]
    public async Task Update_with_a_stale_resourceVersion_is_409_Conflict()
    {
        await using var s = await SessionAsync();
        var created = await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "cm" }, Data = new Dictionary<string, string> { ["a"] = "1" } }, s.Namespace, cancellationToken: Token);
        created.Data["a"] = "2";
        await s.Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "cm", s.Namespace, cancellationToken: Token);
        created.Data["a"] = "3";
        var status = await AssertFailsAsync(HttpStatusCode.Conflict, () => s.Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "cm", s.Namespace, cancellationToken: Token));
        Assert.Equal("Conflict", status.Reason);
        Assert.Contains("the object has been modified", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Patch_carrying_a_stale_resourceVersion_is_409_Conflict()
    {
        await using var s = await SessionAsync();
        var created = await s.CreateWidgetAsync("w");
        var rv = (string)created["metadata"]!["resourceVersion"]!;
        Assert.Equal(200, (await s.PatchAsync($"{s.WidgetsPath}/w", """{"spec":{"color":"green"}}""")).Code);
        (await s.PatchAsync($"{s.WidgetsPath}/w", "{\"metadata\":{\"resourceVersion\":\"" + rv + "\"},\"spec\":{\"color\":\"blue\"}}")).AssertStatus(409, "Conflict");
    }

    [Fact]
    public async Task GenerateName_gives_each_object_a_unique_name_with_that_prefix()
    {
        await using var s = await SessionAsync();
        var a = await s.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { GenerateName = "tok-" } }, s.Namespace, cancellationToken: Token);
        var b = await s.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { GenerateName = "tok-" } }, s.Namespace, cancellationToken: Token);
        Assert.StartsWith("tok-", a.Metadata.Name, StringComparison.Ordinal);
        Assert.Equal("tok-".Length + 5, a.Metadata.Name.Length);
        Assert.NotEqual(a.Metadata.Name, b.Metadata.Name);
    }

    [Fact]
    public async Task Secret_stringData_is_stored_base64_in_data_and_type_defaults_to_Opaque()
    {
        await using var s = await SessionAsync();
        await s.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "creds" }, StringData = new Dictionary<string, string> { ["key"] = "s3cr3t" } }, s.Namespace, cancellationToken: Token);
        var read = await s.Client.CoreV1.ReadNamespacedSecretAsync("creds", s.Namespace, cancellationToken: Token);
        Assert.Equal("s3cr3t", Encoding.UTF8.GetString(read.Data["key"]));
        Assert.Null(read.StringData);
        Assert.Equal("Opaque", read.Type);
    }

    [Fact]
    public async Task Leases_support_create_and_optimistic_replace_as_leader_election_needs()
    {
        await using var s = await SessionAsync();
        var lease = await s.Client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "leader" },
            Spec = new V1LeaseSpec { HolderIdentity = "a", LeaseDurationSeconds = 15, AcquireTime = DateTime.UtcNow, RenewTime = DateTime.UtcNow },
        }, s.Namespace, cancellationToken: Token);
        lease.Spec.HolderIdentity = "b";
        var replaced = await s.Client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "leader", s.Namespace, cancellationToken: Token);
        Assert.Equal("b", replaced.Spec.HolderIdentity);
        lease.Spec.HolderIdentity = "c";
        await AssertFailsAsync(HttpStatusCode.Conflict, () => s.Client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, "leader", s.Namespace, cancellationToken: Token));
    }

    [Fact]
    public async Task Events_written_through_events_k8s_io_are_listed_as_core_events()
    {
        await using var s = await SessionAsync();
        var now = DateTime.UtcNow;
        await s.Client.EventsV1.CreateNamespacedEventAsync(new Eventsv1Event
        {
            Metadata = new V1ObjectMeta { Name = "ev1" },
            EventTime = now,
            ReportingController = "vk.dev/operator",
            ReportingInstance = "operator-0",
            Action = "Reconcile",
            Reason = "Issued",
            Type = "Normal",
            Note = "token issued",
            Regarding = new V1ObjectReference { Kind = "Widget", Name = "w", NamespaceProperty = s.Namespace, ApiVersion = "test.vk.dev/v1" },
        }, s.Namespace, cancellationToken: Token);
        await s.Client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { Name = "ev2" },
            InvolvedObject = new V1ObjectReference { Kind = "Widget", Name = "w", NamespaceProperty = s.Namespace },
            Reason = "Synced",
            Message = "usage synced",
            Type = "Normal",
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
            Source = new V1EventSource { Component = "vk-operator" },
        }, s.Namespace, cancellationToken: Token);

        var core = await s.Client.CoreV1.ListNamespacedEventAsync(s.Namespace, cancellationToken: Token);
        var issued = core.Items.Single(e => e.Metadata.Name == "ev1");
        Assert.Equal("token issued", issued.Message);
        Assert.Equal("w", issued.InvolvedObject.Name);
        var v1 = await s.Client.EventsV1.ListNamespacedEventAsync(s.Namespace, cancellationToken: Token);
        Assert.Equal("usage synced", v1.Items.Single(e => e.Metadata.Name == "ev2").Note);
    }

    [Fact]
    public async Task Cluster_scoped_custom_resources_live_outside_namespaces()
    {
        await using var s = await SessionAsync();
        var name = "g-" + s.Namespace;
        var body = new JsonObject { ["apiVersion"] = "test.vk.dev/v1", ["kind"] = "Gadget", ["metadata"] = new JsonObject { ["name"] = name }, ["spec"] = new JsonObject { ["size"] = 3 } };
        var created = await s.PostAsync("apis/test.vk.dev/v1/gadgets", body);
        Assert.Equal(201, created.Code);
        Assert.Null(created.Json!["metadata"]!["namespace"]);
        Assert.Equal(3, (int)(await s.GetAsync($"apis/test.vk.dev/v1/gadgets/{name}")).Json!["spec"]!["size"]!);
        (await s.GetAsync($"apis/test.vk.dev/v1/namespaces/{s.Namespace}/gadgets/{name}")).AssertStatus(404, "NotFound");
        Assert.Equal(200, (await s.SendAsync(HttpMethod.Delete, $"apis/test.vk.dev/v1/gadgets/{name}")).Code);
    }

    [Fact]
    public async Task DryRun_create_answers_the_object_but_stores_nothing()
    {
        await using var s = await SessionAsync();
        var response = await s.PostAsync(s.WidgetsPath + "?dryRun=All", ClusterSession.Widget("dry"));
        Assert.Equal(201, response.Code);
        Assert.Equal("dry", (string?)response.Json!["metadata"]!["name"]);
        (await s.GetAsync($"{s.WidgetsPath}/dry")).AssertStatus(404, "NotFound");
    }

    [Fact]
    public async Task Creating_in_a_missing_namespace_is_404()
    {
        await using var s = await SessionAsync();
        var status = await AssertFailsAsync(HttpStatusCode.NotFound, () => s.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "x" } }, "no-such-ns-" + s.Namespace, cancellationToken: Token));
        Assert.Equal("NotFound", status.Reason);
    }

    [Fact]
    public async Task Scale_subresource_reads_and_writes_the_declared_replica_paths()
    {
        await using var s = await SessionAsync();
        await s.CreateWidgetAsync("scaled", replicas: 2);
        var scale = (await s.GetAsync($"{s.WidgetsPath}/scaled/scale")).Json!;
        Assert.Equal("Scale", (string?)scale["kind"]);
        Assert.Equal("autoscaling/v1", (string?)scale["apiVersion"]);
        Assert.Equal(2, (int)scale["spec"]!["replicas"]!);
        var patched = await s.PatchAsync($"{s.WidgetsPath}/scaled/scale", """{"spec":{"replicas":5}}""");
        Assert.True(patched.Code == 200, patched.Body);
        Assert.Equal(5, (int)(await s.GetAsync($"{s.WidgetsPath}/scaled")).Json!["spec"]!["replicas"]!);
    }
}
