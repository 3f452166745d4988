using System.Text;
using k8s;
using k8s.Models;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public abstract partial class ConformanceSuite<TBackend>
{
    [Fact]
    public async Task Merge_patch_merges_maps_replaces_lists_and_removes_nulls()
    {
        await using var s = await SessionAsync();
        var body = Backends.ClusterSession.Widget("m");
        body["spec"]!["tags"] = new System.Text.Json.Nodes.JsonArray("a", "b");
        body["metadata"]!["labels"] = new System.Text.Json.Nodes.JsonObject { ["keep"] = "1", ["drop"] = "2" };
        Assert.Equal(201, (await s.PostAsync(s.WidgetsPath, body)).Code);
        var patched = (await s.PatchAsync($"{s.WidgetsPath}/m", """{"metadata":{"labels":{"drop":null,"new":"3"}},"spec":{"tags":["c"]}}""")).Json!;
        var labels = patched["metadata"]!["labels"]!.AsObject();
        Assert.Equal("1", (string?)labels["keep"]);
        Assert.Equal("3", (string?)labels["new"]);
        Assert.False(labels.ContainsKey("drop"));
        Assert.Equal(["c"], patched["spec"]!["tags"]!.AsArray().Select(t => (string?)t));
        Assert.Equal("red", (string?)patched["spec"]!["color"]);
    }

    [Fact]
    public async Task Json_patch_applies_operations_and_a_failed_test_is_422()
    {
        await using var s = await SessionAsync();
        await s.CreateWidgetAsync("j");
        var patched = await s.PatchAsync($"{s.WidgetsPath}/j", """[{"op":"test","path":"/spec/color","value":"red"},{"op":"replace","path":"/spec/color","value":"green"},{"op":"add","path":"/spec/tags","value":["x"]}]""", "application/json-patch+json");
        Assert.Equal(200, patched.Code);
        Assert.Equal("green", (string?)patched.Json!["spec"]!["color"]);
        Assert.Equal("x", (string?)patched.Json!["spec"]!["tags"]![0]);
        var failed = await s.PatchAsync($"{s.WidgetsPath}/j", """[{"op":"test","path":"/spec/color","value":"red"},{"op":"replace","path":"/spec/color","value":"blue"}]""", "application/json-patch+json");
        failed.AssertStatus(422, "Invalid");
        Assert.Equal("green", (string?)(await s.GetAsync($"{s.WidgetsPath}/j")).Json!["spec"]!["color"]);
    }

    [Fact]
    public async Task Strategic_merge_patch_on_a_secret_merges_data()
    {
        await using var s = await SessionAsync();
        await s.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "smp", Finalizers = ["test.vk.dev/a"] }, StringData = new Dictionary<string, string> { ["a"] = "1" } }, s.Namespace, cancellationToken: Token);
        var response = await s.PatchAsync($"{s.SecretsPath}/smp", """{"metadata":{"finalizers":["test.vk.dev/b"]},"stringData":{"b":"2"}}""", "application/strategic-merge-patch+json");
        Assert.Equal(200, response.Code);
        var secret = await s.Client.CoreV1.ReadNamespacedSecretAsync("smp", s.Namespace, cancellationToken: Token);
        Assert.Equal("1", Encoding.UTF8.GetString(secret.Data["a"]));
        Assert.Equal("2", Encoding.UTF8.GetString(secret.Data["b"]));
        Assert.Equal(["test.vk.dev/a", "test.vk.dev/b"], secret.Metadata.Finalizers);
        await s.PatchAsync($"{s.SecretsPath}/smp", """{"metadata":{"finalizers":null}}""");
    }
}
