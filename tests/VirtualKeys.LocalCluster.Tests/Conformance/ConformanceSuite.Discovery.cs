using System.Text.Json.Nodes;
using k8s;
using VirtualKeys.LocalCluster.Tests.Backends;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public abstract partial class ConformanceSuite<TBackend>
{
    [Fact]
    public async Task Discovery_serves_version_core_and_group_lists()
    {
        await using var s = await SessionAsync();
        var version = await s.GetAsync("version");
        Assert.Equal(200, version.Code);
        Assert.Equal("1", (string?)version.Json!["major"]);

        var api = await s.GetAsync("api");
        Assert.Contains("v1", api.Json!["versions"]!.AsArray().Select(v => (string?)v));

        var groups = (await s.GetAsync("apis")).Json!["groups"]!.AsArray().Select(g => (string?)g!["name"]).ToList();
        Assert.Contains("coordination.k8s.io", groups);
        Assert.Contains("apiextensions.k8s.io", groups);
        Assert.Contains("events.k8s.io", groups);
        Assert.Contains(TestCrds.Group, groups);

        var core = (await s.GetAsync("api/v1")).Json!["resources"]!.AsArray();
        foreach (var name in new[] { "namespaces", "secrets", "configmaps", "events" })
        {
            var resource = core.Single(r => (string?)r!["name"] == name)!;
            Assert.Contains("watch", resource["verbs"]!.AsArray().Select(v => (string?)v));
        }

        Assert.Contains(core, r => (string?)r!["name"] == "namespaces/status");
    }

    [Fact]
    public async Task Crd_registers_its_resource_with_short_names_categories_and_subresources()
    {
        await using var s = await SessionAsync();
        var list = (await s.GetAsync($"apis/{TestCrds.Group}/{TestCrds.Version}")).Json!;
        Assert.Equal("APIResourceList", (string?)list["kind"]);
        var resources = list["resources"]!.AsArray();
        var widgets = resources.Single(r => (string?)r!["name"] == "widgets")!;
        Assert.Equal("Widget", (string?)widgets["kind"]);
        Assert.True((bool)widgets["namespaced"]!);
        Assert.Contains("wg", widgets["shortNames"]!.AsArray().Select(v => (string?)v));
        Assert.Contains("vktest", widgets["categories"]!.AsArray().Select(v => (string?)v));
        Assert.Contains(resources, r => (string?)r!["name"] == "widgets/status");
        var scale = resources.Single(r => (string?)r!["name"] == "widgets/scale")!;
        Assert.Equal("Scale", (string?)scale["kind"]);
        Assert.False((bool)resources.Single(r => (string?)r!["name"] == "gadgets")!["namespaced"]!);

        var crd = (await s.GetAsync("apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.test.vk.dev")).Json!;
        var conditions = crd["status"]!["conditions"]!.AsArray();
        Assert.Contains(conditions, c => (string?)c!["type"] == "Established" && (string?)c["status"] == "True");
    }

    [Fact]
    public async Task Default_and_kube_system_namespaces_exist()
    {
        await using var s = await SessionAsync();
        var names = (await s.Client.CoreV1.ListNamespaceAsync(cancellationToken: Token)).Items.Select(n => n.Metadata.Name).ToList();
        Assert.Contains("default", names);
        Assert.Contains("kube-system", names);
        Assert.Contains(s.Namespace, names);
        var ns = await s.Client.CoreV1.ReadNamespaceAsync(s.Namespace, cancellationToken: Token);
        Assert.Equal("Active", ns.Status.Phase);
    }

    [Fact]
    public async Task OpenApi_v3_index_lists_group_versions_with_patch_operations_that_take_fieldValidation()
    {
        await using var s = await SessionAsync();
        var index = (await s.GetAsync("openapi/v3")).Json!["paths"]!.AsObject();
        Assert.True(index.ContainsKey("api/v1"));
        var url = (string)index[$"apis/{TestCrds.Group}/{TestCrds.Version}"]!["serverRelativeURL"]!;
        var document = (await s.GetAsync(url)).Json!;
        var patch = document["paths"]!.AsObject()
            .Select(p => p.Value!["patch"])
            .First(op => op is not null && (string?)op["x-kubernetes-group-version-kind"]?["kind"] == "Widget")!;
        Assert.Contains(patch["parameters"]!.AsArray(), p => (string?)p!["name"] == "fieldValidation" && (string?)p["in"] == "query");
        Assert.IsType<JsonObject>(document["components"]!["schemas"]);
    }
}
