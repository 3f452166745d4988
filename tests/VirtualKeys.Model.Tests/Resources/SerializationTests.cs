using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using VirtualKeys.Model.Tests.Support;

namespace VirtualKeys.Model.Tests.Resources;

public class SerializationTests
{
    private const string Manifest = """
        apiVersion: aigateway.dev/v1alpha1
        kind: VirtualKey
        metadata:
          name: team-a
          namespace: default
        spec:
          providers:
          - name: azure
            type: AzureOpenAI
            baseUrl: https://team-a.openai.azure.com
            apiVersion: "2024-10-21"
            secretRef:
              name: azure-key
              key: apiKey
            models:
            - gpt-4o-mini
            priority: 1
            weight: 2
          defaultModel: fast
          allowedModels:
          - gpt-4o-mini
          modelAliases:
            fast: gpt-4o-mini
            Big.Model: gpt-4o-mini
          limits:
            requestsPerMinute: 5
            tokensPerMinute: 20000
            maxParallelRequests: 2
          budget:
            maxCostUsd: "12.50"
            period: Weekly
            alertAtPercent: 80
          expiresAt: "2027-01-31T00:00:00Z"
          suspended: true
          tokenSecretName: team-a-secret-token
        status:
          observedGeneration: 3
          conditions:
          - type: Ready
            status: "False"
            reason: BudgetExhausted
            message: spent 12.50 of 12.50 USD this week
            lastTransitionTime: "2026-11-20T10:00:00Z"
            observedGeneration: 3
          keyId: vk_01hxyz
          tokenSecretName: team-a-secret-token
          usage:
            periodStart: "2026-11-16T00:00:00Z"
            requests: 42
            inputTokens: 1200
            outputTokens: 3400
            costUsd: "12.50"
            rejections:
              rpm: 3
              budget: 7
            lastRequestTime: "2026-11-20T09:59:58Z"
          budgetRemainingUsd: "0.00"
          lastUsageSync: "2026-11-20T10:00:05Z"
        """;

    [Fact]
    public void KubernetesYaml_reads_every_field_of_a_manifest()
    {
        var key = KubernetesYaml.Deserialize<VirtualKey>(Manifest, strict: true);

        var provider = Assert.Single(key.Spec.Providers);
        Assert.Equal((ProviderType.AzureOpenAI, "https://team-a.openai.azure.com", "2024-10-21", "azure-key", "apiKey", 1, 2),
            (provider.Type, provider.BaseUrl, provider.ApiVersion, provider.SecretRef.Name, provider.SecretRef.Key, provider.Priority, provider.Weight));
        Assert.Equal("gpt-4o-mini", key.Spec.ModelAliases!["Big.Model"]);
        Assert.Equal((5, 20000, 2), (key.Spec.Limits!.RequestsPerMinute, key.Spec.Limits.TokensPerMinute, key.Spec.Limits.MaxParallelRequests));
        Assert.Equal(("12.50", BudgetPeriod.Weekly, 80), (key.Spec.Budget!.MaxCostUsd, key.Spec.Budget.Period, key.Spec.Budget.AlertAtPercent));
        Assert.Equal(new DateTimeOffset(2027, 1, 31, 0, 0, 0, TimeSpan.Zero), key.Spec.ExpiresAt);
        Assert.True(key.Spec.Suspended);
        var condition = Assert.Single(key.Status!.Conditions);
        Assert.Equal((ConditionTypes.Ready, "False", ConditionReasons.BudgetExhausted), (condition.Type, condition.Status, condition.Reason));
        Assert.Equal(7, key.Status.Usage!.Rejections![RejectionCauses.Budget]);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 10, 0, 5, TimeSpan.Zero), key.Status.LastUsageSync);
    }

    [Fact]
    public void KubernetesYaml_writes_back_the_same_fields_under_the_same_names()
    {
        var key = KubernetesYaml.Deserialize<VirtualKey>(Manifest, strict: true);

        var written = YamlToJson.Parse(KubernetesYaml.Serialize(key));

        AssertSameJson(YamlToJson.Parse(Manifest), written);
    }

    [Fact]
    public void KubernetesJson_writes_the_same_names_as_KubernetesYaml()
    {
        var key = KubernetesYaml.Deserialize<VirtualKey>(Manifest, strict: true);

        AssertSameJson(YamlToJson.Parse(Manifest), JsonNode.Parse(KubernetesJson.Serialize(key)));
    }

    [Fact]
    public void A_new_key_serializes_with_its_api_version_kind_and_defaults()
    {
        var key = new VirtualKey
        {
            Metadata = new V1ObjectMeta { Name = "k" },
            Spec = new VirtualKeySpec { Providers = [new ProviderSpec { Name = "p", Type = ProviderType.Anthropic, SecretRef = new SecretKeyRef { Name = "s", Key = "k" } }] },
        };

        var json = JsonNode.Parse(KubernetesJson.Serialize(key))!;

        Assert.Equal("aigateway.dev/v1alpha1", (string?)json["apiVersion"]);
        Assert.Equal("VirtualKey", (string?)json["kind"]);
        Assert.Equal("Anthropic", (string?)json["spec"]!["providers"]![0]!["type"]);
        Assert.Equal(1, (int?)json["spec"]!["providers"]![0]!["weight"]);
        Assert.Null(json["spec"]!["allowedModels"]);
        Assert.Null(json["status"]);
    }

    [Fact]
    public void KubernetesYaml_finds_the_type_of_a_VirtualKey_document_by_apiVersion_and_kind()
    {
        var typeMap = new Dictionary<string, Type> { [$"{WellKnown.ApiVersion}/{WellKnown.Kind}"] = typeof(VirtualKey) };

        var objects = KubernetesYaml.LoadAllFromString(Manifest, typeMap);

        Assert.Equal("team-a", Assert.IsType<VirtualKey>(Assert.Single(objects)).Metadata.Name);
    }

    private static void AssertSameJson(JsonNode? expected, JsonNode? actual)
    {
        // Through text, so that numbers compare by value whichever reader made them.
        var expectedText = JsonNode.Parse(expected!.ToJsonString());
        var actualText = JsonNode.Parse(actual!.ToJsonString());
        Assert.True(JsonNode.DeepEquals(expectedText, actualText), $"expected\n{expectedText}\nbut got\n{actualText}");
    }
}
