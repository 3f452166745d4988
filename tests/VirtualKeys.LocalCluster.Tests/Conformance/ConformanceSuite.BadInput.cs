using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Tests.Backends;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public abstract partial class ConformanceSuite<TBackend>
{
    [Fact]
    public async Task Malformed_json_is_400_BadRequest()
    {
        await using var s = await SessionAsync();
        (await s.SendAsync(HttpMethod.Post, s.WidgetsPath, "{\"apiVersion\": ")).AssertStatus(400, "BadRequest");
        (await s.SendAsync(HttpMethod.Post, s.SecretsPath, "not json at all")).AssertStatus(400, "BadRequest");
    }

    [Fact]
    public async Task Wrong_apiVersion_or_kind_in_the_body_is_400_BadRequest()
    {
        await using var s = await SessionAsync();
        var wrongVersion = ClusterSession.Widget("v");
        wrongVersion["apiVersion"] = "test.vk.dev/v9";
        var response = (await s.PostAsync(s.WidgetsPath, wrongVersion)).AssertStatus(400, "BadRequest");
        Assert.Contains("test.vk.dev/v9", response.Message, StringComparison.Ordinal);

        var noKind = ClusterSession.Widget("k");
        noKind.Remove("kind");
        (await s.PostAsync(s.WidgetsPath, noKind)).AssertStatus(400, "BadRequest");
    }

    [Fact]
    public async Task Body_for_another_namespace_is_400_BadRequest()
    {
        await using var s = await SessionAsync();
        var body = ClusterSession.Widget("elsewhere");
        body["metadata"]!["namespace"] = "default";
        var response = (await s.PostAsync(s.WidgetsPath, body)).AssertStatus(400, "BadRequest");
        Assert.Equal("the namespace of the provided object does not match the namespace sent on the request", response.Message);
    }

    [Fact]
    public async Task Unknown_resource_or_group_is_404_NotFound()
    {
        await using var s = await SessionAsync();
        (await s.GetAsync($"apis/{TestCrds.Group}/{TestCrds.Version}/namespaces/{s.Namespace}/sprockets")).AssertStatus(404, "NotFound");
        (await s.GetAsync("apis/nothing.example.com/v1/things")).AssertStatus(404, "NotFound");
    }

    [Fact]
    public async Task Wrong_method_is_405_MethodNotAllowed()
    {
        await using var s = await SessionAsync();
        (await s.SendAsync(HttpMethod.Put, s.WidgetsPath, ClusterSession.Widget("x").ToJsonString())).AssertStatus(405, "MethodNotAllowed");
    }

    [Fact]
    public async Task Oversized_body_is_413_RequestEntityTooLarge()
    {
        await using var s = await SessionAsync();
        var body = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "ConfigMap",
            ["metadata"] = new JsonObject { ["name"] = "huge" },
            ["data"] = new JsonObject { ["blob"] = new string('x', 4 * 1024 * 1024) },
        };
        var response = await s.SendAsync(HttpMethod.Post, $"api/v1/namespaces/{s.Namespace}/configmaps", body.ToJsonString());
        response.AssertStatus(413, "RequestEntityTooLarge");
    }

    [Fact]
    public async Task Strategic_merge_patch_on_a_custom_resource_is_415_UnsupportedMediaType()
    {
        await using var s = await SessionAsync();
        await s.CreateWidgetAsync("smp");
        var response = (await s.PatchAsync($"{s.WidgetsPath}/smp", """{"spec":{"color":"blue"}}""", "application/strategic-merge-patch+json")).AssertStatus(415, "UnsupportedMediaType");
        Assert.Contains("application/merge-patch+json", response.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_name_is_422_Invalid()
    {
        await using var s = await SessionAsync();
        var body = ClusterSession.Widget("x");
        body["metadata"] = new JsonObject();
        var response = (await s.PostAsync(s.WidgetsPath, body)).AssertStatus(422, "Invalid");
        Assert.Contains("metadata.name", response.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_label_value_is_422_Invalid()
    {
        await using var s = await SessionAsync();
        var body = ClusterSession.Widget("labelled");
        body["metadata"]!["labels"] = new JsonObject { ["app"] = "not valid!" };
        (await s.PostAsync(s.WidgetsPath, body)).AssertStatus(422, "Invalid");
    }

    [Fact]
    public async Task Label_value_of_64_characters_is_422_Invalid_and_63_are_accepted()
    {
        await using var s = await SessionAsync();
        var fits = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Secret", ["metadata"] = new JsonObject { ["name"] = "fits", ["labels"] = new JsonObject { ["owner"] = new string('a', 63) } } };
        var created = await s.PostAsync(s.SecretsPath, fits);
        Assert.True(created.Code == 201, created.Body);

        var tooLong = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Secret", ["metadata"] = new JsonObject { ["name"] = "too-long", ["labels"] = new JsonObject { ["owner"] = new string('a', 64) + "-" } } };
        var response = (await s.PostAsync(s.SecretsPath, tooLong)).AssertStatus(422, "Invalid");
        var messages = response.Json!["details"]!["causes"]!.AsArray()
            .Where(c => (string?)c!["field"] == "metadata.labels")
            .Select(c => (string)c!["message"]!)
            .ToList();

        // Like apimachinery's IsValidLabelValue, both rules are reported: the length and the shape.
        Assert.Contains(messages, m => m.Contains("must be no more than 63 characters", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("must start and end with an alphanumeric character", StringComparison.Ordinal));
    }
}
