using System.Net;
using k8s;
using k8s.Models;
using VirtualKeys.LocalCluster.Tests.Backends;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public abstract partial class ConformanceSuite<TBackend>
{
    [Fact]
    public async Task Delete_of_an_object_with_a_finalizer_marks_it_until_the_finalizer_is_removed()
    {
        await using var s = await SessionAsync();
        var body = ClusterSession.Widget("held");
        body["metadata"]!["finalizers"] = new System.Text.Json.Nodes.JsonArray("test.vk.dev/cleanup");
        Assert.Equal(201, (await s.PostAsync(s.WidgetsPath, body)).Code);

        var deleted = await s.SendAsync(HttpMethod.Delete, $"{s.WidgetsPath}/held", """{"propagationPolicy":"Background"}""");
        Assert.Equal(200, deleted.Code);
        Assert.NotNull((string?)deleted.Json!["metadata"]!["deletionTimestamp"]);
        var still = (await s.GetAsync($"{s.WidgetsPath}/held")).Json!;
        Assert.NotNull((string?)still["metadata"]!["deletionTimestamp"]);

        var added = await s.PatchAsync($"{s.WidgetsPath}/held", """{"metadata":{"finalizers":["test.vk.dev/cleanup","test.vk.dev/another"]}}""");
        added.AssertStatus(422, "Invalid");

        Assert.Equal(200, (await s.PatchAsync($"{s.WidgetsPath}/held", """{"metadata":{"finalizers":null}}""")).Code);
        await ClusterSession.EventuallyAsync(async () => (await s.GetAsync($"{s.WidgetsPath}/held")).Code == 404, "the widget is gone");
    }

    [Fact]
    public async Task Deleting_an_owner_deletes_its_dependents_in_the_background()
    {
        await using var s = await SessionAsync();
        var owner = await s.CreateWidgetAsync("owner");
        await s.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta
            {
                Name = "owner-token",
                OwnerReferences = [new V1OwnerReference { ApiVersion = "test.vk.dev/v1", Kind = "Widget", Name = "owner", Uid = (string)owner["metadata"]!["uid"]!, BlockOwnerDeletion = true, Controller = true }],
            },
        }, s.Namespace, cancellationToken: Token);
        Assert.Equal(200, (await s.SendAsync(HttpMethod.Delete, $"{s.WidgetsPath}/owner")).Code);
        await ClusterSession.EventuallyAsync(async () => (await s.GetAsync($"{s.SecretsPath}/owner-token")).Code == 404, "the owned secret is collected", 60);
    }

    [Fact]
    public async Task Foreground_deletion_removes_dependents_before_the_owner()
    {
        await using var s = await SessionAsync();
        var owner = await s.CreateWidgetAsync("fg");
        await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta
            {
                Name = "fg-child",
                Finalizers = ["test.vk.dev/hold"],
                OwnerReferences = [new V1OwnerReference { ApiVersion = "test.vk.dev/v1", Kind = "Widget", Name = "fg", Uid = (string)owner["metadata"]!["uid"]!, BlockOwnerDeletion = true }],
            },
        }, s.Namespace, cancellationToken: Token);
        var deleted = await s.SendAsync(HttpMethod.Delete, $"{s.WidgetsPath}/fg", """{"propagationPolicy":"Foreground"}""");
        Assert.Equal(200, deleted.Code);
        await ClusterSession.EventuallyAsync(
            async () => (await s.Client.CoreV1.ReadNamespacedConfigMapAsync("fg-child", s.Namespace, cancellationToken: Token)).Metadata.DeletionTimestamp is not null,
            "the dependent is being deleted", 60);
        Assert.Equal(200, (await s.GetAsync($"{s.WidgetsPath}/fg")).Code);

        await s.PatchAsync($"api/v1/namespaces/{s.Namespace}/configmaps/fg-child", """{"metadata":{"finalizers":null}}""");
        await ClusterSession.EventuallyAsync(async () => (await s.GetAsync($"{s.WidgetsPath}/fg")).Code == 404, "the owner goes after its dependent", 60);
    }

    [Fact]
    public async Task Orphan_deletion_keeps_dependents_and_drops_their_owner_reference()
    {
        await using var s = await SessionAsync();
        var owner = await s.CreateWidgetAsync("orph");
        await s.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta
            {
                Name = "orph-child",
                OwnerReferences = [new V1OwnerReference { ApiVersion = "test.vk.dev/v1", Kind = "Widget", Name = "orph", Uid = (string)owner["metadata"]!["uid"]! }],
            },
        }, s.Namespace, cancellationToken: Token);
        Assert.Equal(200, (await s.SendAsync(HttpMethod.Delete, $"{s.WidgetsPath}/orph", """{"propagationPolicy":"Orphan"}""")).Code);
        await ClusterSession.EventuallyAsync(async () => (await s.GetAsync($"{s.WidgetsPath}/orph")).Code == 404, "the owner is gone", 60);
        var child = await s.Client.CoreV1.ReadNamespacedConfigMapAsync("orph-child", s.Namespace, cancellationToken: Token);
        Assert.True(child.Metadata.OwnerReferences is null || child.Metadata.OwnerReferences.Count == 0);
    }

    [Fact]
    public async Task Deleting_a_namespace_removes_its_contents_then_the_namespace()
    {
        await using var s = await SessionAsync();
        var ns = "gone-" + s.Namespace;
        await s.Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } }, cancellationToken: Token);
        await s.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "inside", Finalizers = ["test.vk.dev/hold"] } }, ns, cancellationToken: Token);
        await s.Client.CoreV1.DeleteNamespaceAsync(ns, cancellationToken: Token);
        var terminating = await s.Client.CoreV1.ReadNamespaceAsync(ns, cancellationToken: Token);
        Assert.Equal("Terminating", terminating.Status.Phase);
        await AssertFailsAsync(HttpStatusCode.Forbidden, () => s.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "late" } }, ns, cancellationToken: Token));
        await ClusterSession.EventuallyAsync(
            async () => (await s.Client.CoreV1.ReadNamespacedSecretAsync("inside", ns, cancellationToken: Token)).Metadata.DeletionTimestamp is not null,
            "the namespace's contents are being deleted", 120);
        await s.PatchAsync($"api/v1/namespaces/{ns}/secrets/inside", """{"metadata":{"finalizers":null}}""");
        await ClusterSession.EventuallyAsync(async () => (await s.GetAsync($"api/v1/namespaces/{ns}")).Code == 404, "the namespace is gone", 120);
    }
}
