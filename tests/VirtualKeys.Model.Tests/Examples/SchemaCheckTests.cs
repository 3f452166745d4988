using System.Text.Json.Nodes;
using VirtualKeys.Model.Tests.Support;

namespace VirtualKeys.Model.Tests.Examples;

/// <summary>Proves the schema check used on the examples catches broken manifests.</summary>
public class SchemaCheckTests
{
    private static readonly CrdSchema Schema = new(Repository.CommittedCrd());

    [Fact]
    public void The_unbroken_quickstart_passes()
    {
        Assert.Empty(Schema.Check(Quickstart()));
    }

    [Theory]
    [InlineData("spec.limits.requestsPerMinute", "-5", "/spec/limits/requestsPerMinute")]
    [InlineData("spec.limits.requestsPerMinute", "0", "/spec/limits/requestsPerMinute")]
    [InlineData("spec.limits.requestsPerMinute", "\"five\"", "/spec/limits/requestsPerMinute")]
    [InlineData("spec.limits.tokensPerMinute", "1.5", "/spec/limits/tokensPerMinute")]
    [InlineData("spec.providers.0.secretRef.name", "\"Demo_Provider_Key\"", "/spec/providers/0/secretRef/name")]
    [InlineData("spec.providers.0.type", "\"OpenAi\"", "/spec/providers/0/type")]
    [InlineData("spec.providers.0.weight", "0", "/spec/providers/0/weight")]
    [InlineData("spec.budget.maxCostUsd", "\"-1\"", "/spec/budget/maxCostUsd")]
    [InlineData("spec.budget.maxCostUsd", "5", "/spec/budget/maxCostUsd")]
    [InlineData("spec.budget.alertAtPercent", "150", "/spec/budget/alertAtPercent")]
    [InlineData("spec.budget.period", "\"Yearly\"", "/spec/budget/period")]
    [InlineData("spec.expiresAt", "\"next tuesday\"", "/spec/expiresAt")]
    [InlineData("spec.suspended", "\"yes\"", "/spec/suspended")]
    [InlineData("spec.providers", "[]", "/spec/providers")]
    [InlineData("spec.rateLimits", "{}", "/spec/rateLimits")]
    public void A_broken_field_is_caught_at_its_location(string field, string json, string location)
    {
        var manifest = Quickstart();
        Set(manifest, field, JsonNode.Parse(json));

        var errors = Schema.Check(manifest);

        Assert.Contains(errors, error => error.StartsWith(location + ":", StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_required_field_is_caught()
    {
        var manifest = Quickstart();
        manifest["spec"]!["providers"]![0]!.AsObject().Remove("secretRef");

        Assert.Contains(Schema.Check(manifest), error => error.StartsWith("/spec/providers/0:", StringComparison.Ordinal) && error.Contains("secretRef", StringComparison.Ordinal));
    }

    private static JsonObject Quickstart() => ExampleManifests.Get("examples/quickstart/virtualkey.yaml#0").DeepClone().AsObject();

    private static void Set(JsonNode root, string path, JsonNode? value)
    {
        var segments = path.Split('.');
        var node = root;
        foreach (var segment in segments[..^1])
        {
            node = int.TryParse(segment, out var index) ? node[index]! : node[segment]!;
        }

        node[segments[^1]] = value;
    }
}
