using System.Text.Json.Nodes;
using k8s;
using VirtualKeys.Model.Tests.Support;
using VirtualKeys.Model.Validation;

namespace VirtualKeys.Model.Tests.Examples;

public class ExampleManifestTests
{
    private static readonly CrdSchema Schema = new(Repository.CommittedCrd());

    public static TheoryData<string> VirtualKeyExamples() => [.. ExampleManifests.VirtualKeys().Select(example => example.Name)];

    [Fact]
    public void Every_example_folder_has_a_VirtualKey()
    {
        var folders = Directory.GetDirectories(Repository.PathOf("examples")).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        var foldersWithKeys = ExampleManifests.VirtualKeys().Select(example => example.Name.Split('/')[1]).Distinct().Order(StringComparer.Ordinal);

        Assert.Equal(folders, foldersWithKeys);
        Assert.Contains("quickstart", foldersWithKeys);
    }

    [Theory]
    [MemberData(nameof(VirtualKeyExamples))]
    public void The_example_matches_the_CRD_schema(string example)
    {
        var errors = Schema.Check(ExampleManifests.Get(example));

        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    [Theory]
    [MemberData(nameof(VirtualKeyExamples))]
    public void The_example_passes_semantic_validation(string example)
    {
        var virtualKey = KubernetesJson.Deserialize<VirtualKey>(ExampleManifests.Get(example).ToJsonString());

        var problems = VirtualKeyValidator.Validate(virtualKey);

        Assert.True(problems.Count == 0, VirtualKeyValidator.Format(problems));
    }

    [Theory]
    [MemberData(nameof(VirtualKeyExamples))]
    public void Every_secret_ref_of_the_example_names_a_Secret_and_key_beside_it(string example)
    {
        var folder = example[..example.LastIndexOf('/')];
        var secrets = ExampleManifests.All()
            .Where(other => other.Name.StartsWith(folder + "/", StringComparison.Ordinal) && (string?)other.Manifest["kind"] == "Secret")
            .ToDictionary(
                secret => (string)secret.Manifest["metadata"]!["name"]!,
                secret => (secret.Manifest["stringData"] as JsonObject ?? secret.Manifest["data"]!.AsObject()).Select(entry => entry.Key).ToHashSet());
        var virtualKey = KubernetesJson.Deserialize<VirtualKey>(ExampleManifests.Get(example).ToJsonString());

        Assert.All(virtualKey.Spec.Providers, provider =>
        {
            Assert.True(secrets.TryGetValue(provider.SecretRef.Name, out var keys), $"no Secret {provider.SecretRef.Name} in {folder}");
            Assert.Contains(provider.SecretRef.Key, keys);
        });
    }

    [Fact]
    public void The_quickstart_has_a_default_model_a_small_RPM_limit_a_TPM_limit_and_a_budget_on_a_loopback_mock()
    {
        var manifest = ExampleManifests.Get("examples/quickstart/virtualkey.yaml#0");
        var key = KubernetesJson.Deserialize<VirtualKey>(manifest.ToJsonString());

        Assert.False(string.IsNullOrEmpty(key.Spec.DefaultModel));
        Assert.InRange(key.Spec.Limits!.RequestsPerMinute!.Value, 1, 10);
        Assert.NotNull(key.Spec.Limits.TokensPerMinute);
        Assert.NotNull(key.Spec.Budget);
        var provider = Assert.Single(key.Spec.Providers);
        Assert.Equal(ProviderType.OpenAICompatible, provider.Type);
        Assert.True(new Uri(provider.BaseUrl!).IsLoopback);
    }

    [Fact]
    public void Example_provider_keys_are_obviously_fake()
    {
        var secretValues = ExampleManifests.All()
            .Where(example => (string?)example.Manifest["kind"] == "Secret")
            .SelectMany(example => example.Manifest["stringData"]!.AsObject().Select(entry => (string)entry.Value!))
            .ToList();

        Assert.NotEmpty(secretValues);
        Assert.All(secretValues, value => Assert.Contains("not-a-real", value, StringComparison.Ordinal));
    }
}
