using System.Text.Json.Nodes;
using VirtualKeys.LocalCluster.Tests.Backends;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public abstract partial class ConformanceSuite<TBackend>
{
    [Fact]
    public async Task Generation_bumps_on_spec_changes_and_the_status_subresource_owns_status()
    {
        await using var s = await SessionAsync();
        var path = $"{s.WidgetsPath}/gen";
        Assert.Equal(1, (long)(await s.CreateWidgetAsync("gen"))["metadata"]!["generation"]!);

        var specChanged = (await s.PatchAsync(path, """{"spec":{"color":"blue"}}""")).Json!;
        Assert.Equal(2, (long)specChanged["metadata"]!["generation"]!);

        var labelled = (await s.PatchAsync(path, """{"metadata":{"labels":{"team":"a"}}}""")).Json!;
        Assert.Equal(2, (long)labelled["metadata"]!["generation"]!);

        var statusViaMain = (await s.PatchAsync(path, """{"status":{"replicas":7}}""")).Json!;
        Assert.Null(statusViaMain["status"]?["replicas"]);

        var status = (await s.PatchAsync(path + "/status", """{"spec":{"color":"green"},"status":{"replicas":7,"conditions":[{"type":"Ready","status":"True"}]}}""")).Json!;
        Assert.Equal(7, (int)status["status"]!["replicas"]!);
        Assert.Equal("blue", (string?)status["spec"]!["color"]);
        Assert.Equal(2, (long)status["metadata"]!["generation"]!);
    }

    [Fact]
    public async Task Writing_the_same_object_again_changes_no_resourceVersion()
    {
        await using var s = await SessionAsync();
        var created = await s.CreateWidgetAsync("same");
        var again = (await s.PatchAsync($"{s.WidgetsPath}/same", """{"spec":{"color":"red"}}""")).Json!;
        Assert.Equal((string?)created["metadata"]!["resourceVersion"], (string?)again["metadata"]!["resourceVersion"]);
    }

    [Fact]
    public async Task Invalid_custom_resource_is_422_with_one_cause_per_field_in_the_servers_wording()
    {
        await using var s = await SessionAsync();
        var body = ClusterSession.Widget("bad");
        body["spec"] = new JsonObject { ["color"] = "pink", ["replicas"] = -1, ["name"] = "ABC", ["tags"] = new JsonArray("a", "b", "c", "d") };
        var response = (await s.PostAsync(s.WidgetsPath, body)).AssertStatus(422, "Invalid");
        var causes = response.Json!["details"]!["causes"]!.AsArray();
        var byField = causes.ToDictionary(c => (string)c!["field"]!, c => (string)c!["message"]!);
        Assert.Contains("should be greater than or equal to 0", byField["spec.replicas"], StringComparison.Ordinal);
        Assert.Contains("Invalid value: -1", byField["spec.replicas"], StringComparison.Ordinal);
        Assert.Contains("Unsupported value: \"pink\"", byField["spec.color"], StringComparison.Ordinal);
        Assert.Contains("should match '^[a-z]+$'", byField["spec.name"], StringComparison.Ordinal);
        Assert.Contains("must have at most 3 items", byField["spec.tags"], StringComparison.Ordinal);
        Assert.StartsWith("Widget.test.vk.dev \"bad\" is invalid: ", response.Message, StringComparison.Ordinal);
        Assert.Equal("Widget", (string?)response.Json!["details"]!["kind"]);
    }

    [Theory]
    [InlineData("""{"color":"red","replicas":11}""", "spec.replicas", "should be less than or equal to 10")]
    [InlineData("""{"color":"red","replicas":"two"}""", "spec.replicas", "must be of type integer")]
    [InlineData("""{"color":"red","name":"abcdefghijkl"}""", "spec.name", "Too long")]
    [InlineData("""{"color":"red","name":"a"}""", "spec.name", "should be at least 2 chars long")]
    [InlineData("""{"color":"red","ratio":0}""", "spec.ratio", "should be greater than 0")]
    [InlineData("""{"color":"red","expiresAt":"tomorrow"}""", "spec.expiresAt", "must be of type date-time")]
    [InlineData("""{"replicas":1}""", "spec.color", "Required value")]
    [InlineData("""{"color":"red","labels":{"a":1}}""", "spec.labels.a", "must be of type string")]
    public async Task Schema_constraints_are_enforced_with_field_paths(string spec, string field, string wording)
    {
        await using var s = await SessionAsync();
        var body = ClusterSession.Widget("bad");
        body["spec"] = JsonNode.Parse(spec);
        var response = (await s.PostAsync(s.WidgetsPath, body)).AssertStatus(422, "Invalid");
        var cause = response.Json!["details"]!["causes"]!.AsArray().Single(c => (string?)c!["field"] == field)!;
        Assert.Contains(wording, (string)cause["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nullable_fields_accept_null_and_schema_defaults_are_applied()
    {
        await using var s = await SessionAsync();
        var body = ClusterSession.Widget("defaults");
        body["spec"]!["note"] = null;
        var created = await s.PostAsync(s.WidgetsPath, body);
        Assert.Equal(201, created.Code);
        Assert.Equal(1, (int)created.Json!["spec"]!["replicas"]!);
    }

    [Fact]
    public async Task Unknown_fields_are_pruned_unless_the_schema_preserves_them()
    {
        await using var s = await SessionAsync();
        var body = ClusterSession.Widget("pruned");
        body["spec"]!["bogus"] = 1;
        body["spec"]!["extra"] = new JsonObject { ["anything"] = new JsonObject { ["goes"] = true } };
        body["topLevel"] = "x";
        var response = await s.SendAsync(HttpMethod.Post, s.WidgetsPath + "?fieldValidation=Ignore", body.ToJsonString());
        Assert.Equal(201, response.Code);
        var stored = (await s.GetAsync($"{s.WidgetsPath}/pruned")).Json!;
        Assert.Null(stored["spec"]!["bogus"]);
        Assert.Null(stored["topLevel"]);
        Assert.True((bool)stored["spec"]!["extra"]!["anything"]!["goes"]!);
    }

    [Fact]
    public async Task Strict_field_validation_refuses_unknown_fields_with_400()
    {
        await using var s = await SessionAsync();
        var body = ClusterSession.Widget("strict");
        body["spec"]!["bogus"] = 1;
        var response = (await s.SendAsync(HttpMethod.Post, s.WidgetsPath + "?fieldValidation=Strict", body.ToJsonString())).AssertStatus(400, "BadRequest");
        Assert.Contains("unknown field \"spec.bogus\"", response.Message, StringComparison.Ordinal);
        Assert.Contains("strict decoding error", response.Message, StringComparison.Ordinal);

        var secret = await s.SendAsync(HttpMethod.Post, s.SecretsPath + "?fieldValidation=Strict", """{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"},"bogus":true}""");
        secret.AssertStatus(400, "BadRequest");
        Assert.Contains("unknown field \"bogus\"", secret.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Warn_field_validation_answers_a_Warning_header_and_drops_the_field()
    {
        await using var s = await SessionAsync();
        var body = ClusterSession.Widget("warned");
        body["spec"]!["bogus"] = 1;
        var response = await s.SendAsync(HttpMethod.Post, s.WidgetsPath + "?fieldValidation=Warn", body.ToJsonString());
        Assert.Equal(201, response.Code);
        Assert.Contains(response.Warnings, w => w.Contains("unknown field \\\"spec.bogus\\\"", StringComparison.Ordinal) || w.Contains("unknown field \"spec.bogus\"", StringComparison.Ordinal));
        Assert.Null(response.Json!["spec"]!["bogus"]);
    }
}
