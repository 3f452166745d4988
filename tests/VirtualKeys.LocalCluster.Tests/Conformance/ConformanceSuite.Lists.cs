using k8s;
using k8s.Models;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public abstract partial class ConformanceSuite<TBackend>
{
    [Theory]
    [InlineData("tier=gold", new[] { "a" })]
    [InlineData("tier==gold", new[] { "a" })]
    [InlineData("tier!=gold", new[] { "b", "c" })]
    [InlineData("tier in (gold,silver)", new[] { "a", "b" })]
    [InlineData("tier notin (gold)", new[] { "b", "c" })]
    [InlineData("tier", new[] { "a", "b" })]
    [InlineData("!tier", new[] { "c" })]
    [InlineData("tier,region=eu", new[] { "b" })]
    public async Task Label_selectors_filter_lists(string selector, string[] expected)
    {
        await using var s = await SessionAsync();
        await CreateLabelledAsync(s.Client, s.Namespace, "a", new() { ["tier"] = "gold" });
        await CreateLabelledAsync(s.Client, s.Namespace, "b", new() { ["tier"] = "silver", ["region"] = "eu" });
        await CreateLabelledAsync(s.Client, s.Namespace, "c", new() { ["region"] = "us" });
        var list = await s.Client.CoreV1.ListNamespacedConfigMapAsync(s.Namespace, labelSelector: selector, cancellationToken: Token);
        Assert.Equal(expected, list.Items.Select(i => i.Metadata.Name).Order().ToArray());
    }

    [Fact]
    public async Task Field_selectors_on_metadata_name_and_namespace_filter_lists()
    {
        await using var s = await SessionAsync();
        await CreateLabelledAsync(s.Client, s.Namespace, "x", []);
        await CreateLabelledAsync(s.Client, s.Namespace, "y", []);
        var byName = await s.Client.CoreV1.ListNamespacedConfigMapAsync(s.Namespace, fieldSelector: "metadata.name=y", cancellationToken: Token);
        Assert.Equal("y", Assert.Single(byName.Items).Metadata.Name);
        var notX = await s.Client.CoreV1.ListConfigMapForAllNamespacesAsync(fieldSelector: $"metadata.namespace={s.Namespace},metadata.name!=x", cancellationToken: Token);
        Assert.Equal("y", Assert.Single(notX.Items).Metadata.Name);
        var bad = await s.GetAsync($"api/v1/namespaces/{s.Namespace}/configmaps?fieldSelector=spec.nothing%3D1");
        bad.AssertStatus(400, "BadRequest");
    }

    [Fact]
    public async Task Limit_and_continue_page_through_every_item_once()
    {
        await using var s = await SessionAsync();
        for (var i = 0; i < 7; i++)
        {
            await CreateLabelledAsync(s.Client, s.Namespace, $"p{i}", []);
        }

        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await s.Client.CoreV1.ListNamespacedConfigMapAsync(s.Namespace, limit: 3, continueParameter: token, cancellationToken: Token);
            Assert.True(page.Items.Count <= 3);
            seen.AddRange(page.Items.Select(i => i.Metadata.Name));
            token = page.Metadata.ContinueProperty;
            pages++;
        }
        while (!string.IsNullOrEmpty(token));
        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"p{i}").Where(n => n.StartsWith('p')), seen.Where(n => n.StartsWith('p')).Order());
    }

    [Fact]
    public async Task List_resourceVersion_covers_the_latest_write()
    {
        await using var s = await SessionAsync();
        var created = await CreateLabelledAsync(s.Client, s.Namespace, "rv", []);
        var list = await s.Client.CoreV1.ListNamespacedConfigMapAsync(s.Namespace, cancellationToken: Token);
        Assert.True(long.Parse(list.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture) >= Rv(created.Metadata));
    }

    [Fact]
    public async Task Delete_collection_removes_only_the_selected_objects()
    {
        await using var s = await SessionAsync();
        await CreateLabelledAsync(s.Client, s.Namespace, "drop-1", new() { ["batch"] = "old" });
        await CreateLabelledAsync(s.Client, s.Namespace, "drop-2", new() { ["batch"] = "old" });
        await CreateLabelledAsync(s.Client, s.Namespace, "keep", new() { ["batch"] = "new" });
        await s.Client.CoreV1.DeleteCollectionNamespacedConfigMapAsync(s.Namespace, labelSelector: "batch=old", cancellationToken: Token);
        await Backends.ClusterSession.EventuallyAsync(
            async () => (await s.Client.CoreV1.ListNamespacedConfigMapAsync(s.Namespace, labelSelector: "batch", cancellationToken: Token)).Items.Count == 1,
            "only the unselected config map remains");
        Assert.Equal("keep", (await s.Client.CoreV1.ListNamespacedConfigMapAsync(s.Namespace, labelSelector: "batch", cancellationToken: Token)).Items.Single().Metadata.Name);
    }

    [Fact]
    public async Task Partial_object_metadata_lists_carry_only_metadata()
    {
        await using var s = await SessionAsync();
        await s.CreateWidgetAsync("meta-only");
        var list = (await s.GetAsync(s.WidgetsPath, "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json")).Json!;
        Assert.Equal("PartialObjectMetadataList", (string?)list["kind"]);
        var item = list["items"]![0]!;
        Assert.Equal("meta-only", (string?)item["metadata"]!["name"]);
        Assert.Null(item["spec"]);
    }

    private static Task<V1ConfigMap> CreateLabelledAsync(k8s.Kubernetes client, string ns, string name, Dictionary<string, string> labels) =>
        client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name, Labels = labels } }, ns, cancellationToken: Token);
}
