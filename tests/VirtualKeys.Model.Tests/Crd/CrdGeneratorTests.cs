using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using VirtualKeys.Model.Crd;
using VirtualKeys.Model.Tests.Support;

namespace VirtualKeys.Model.Tests.Crd;

public class CrdGeneratorTests
{
    private static readonly V1CustomResourceDefinition Crd = CrdGenerator.Generate(typeof(VirtualKey));

    private static V1JSONSchemaProps Root => Crd.Spec.Versions.Single().Schema.OpenAPIV3Schema;

    private static V1JSONSchemaProps Spec => Root.Properties["spec"];

    private static V1JSONSchemaProps Provider => (V1JSONSchemaProps)Spec.Properties["providers"].Items;

    [Fact]
    public void Names_the_resource_as_kubectl_users_type_it()
    {
        Assert.Equal("apiextensions.k8s.io/v1", Crd.ApiVersion);
        Assert.Equal("CustomResourceDefinition", Crd.Kind);
        Assert.Equal("virtualkeys.aigateway.dev", Crd.Metadata.Name);
        Assert.Equal(WellKnown.CrdName, Crd.Metadata.Name);
        Assert.Equal("aigateway.dev", Crd.Spec.Group);
        Assert.Equal("Namespaced", Crd.Spec.Scope);
        var names = Crd.Spec.Names;
        Assert.Equal(("VirtualKey", "VirtualKeyList", "virtualkeys", "virtualkey"), (names.Kind, names.ListKind, names.Plural, names.Singular));
        Assert.Equal(["vk"], names.ShortNames);
        Assert.Equal(["aigateway"], names.Categories);
    }

    [Fact]
    public void Serves_and_stores_v1alpha1_with_a_status_subresource()
    {
        var version = Assert.Single(Crd.Spec.Versions);
        Assert.Equal("v1alpha1", version.Name);
        Assert.True(version.Served);
        Assert.True(version.Storage);
        Assert.NotNull(version.Subresources?.Status);
        Assert.Null(version.Subresources.Scale);
    }

    [Fact]
    public void Has_the_printer_columns_that_make_kubectl_get_useful()
    {
        var columns = Crd.Spec.Versions.Single().AdditionalPrinterColumns
            .Select(column => (column.Name, column.Type, column.JsonPath));

        Assert.Equal(
            [
                ("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"),
                ("Default Model", "string", ".spec.defaultModel"),
                ("RPM", "integer", ".spec.limits.requestsPerMinute"),
                ("TPM", "integer", ".spec.limits.tokensPerMinute"),
                ("Spend", "string", ".status.usage.costUsd"),
                ("Budget", "string", ".spec.budget.maxCostUsd"),
                ("Requests", "integer", ".status.usage.requests"),
                ("Age", "date", ".metadata.creationTimestamp"),
            ],
            columns);
    }

    [Fact]
    public void The_schema_is_structural_every_node_typed_and_nothing_left_open()
    {
        var nodes = Walk("", Root).ToList();

        Assert.All(nodes, node => Assert.False(string.IsNullOrEmpty(node.Schema.Type), $"{node.Path} has no type"));
        Assert.All(nodes, node => Assert.Null(node.Schema.XKubernetesPreserveUnknownFields));
        Assert.Contains(nodes, node => node.Path == ".spec.modelAliases" && node.Schema.AdditionalProperties is V1JSONSchemaProps { Type: "string" });
        Assert.Contains(nodes, node => node.Path == ".status.usage.rejections" && node.Schema.AdditionalProperties is V1JSONSchemaProps { Type: "integer" });
    }

    [Fact]
    public void Every_field_has_a_description_from_its_doc_comment()
    {
        var fields = Walk("", Root).Where(node => node.IsField).ToList();

        Assert.All(fields, field => Assert.False(string.IsNullOrWhiteSpace(field.Schema.Description), $"{field.Path} has no description"));
        Assert.StartsWith("The real provider keys behind this virtual key.", Spec.Properties["providers"].Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Required_fields_are_required()
    {
        Assert.Equal(["spec"], Root.Required);
        Assert.Equal(["providers"], Spec.Required);
        Assert.Equal(["name", "secretRef", "type"], Provider.Required);
        Assert.Equal(["key", "name"], Provider.Properties["secretRef"].Required);
        Assert.Equal(["maxCostUsd"], Spec.Properties["budget"].Required);
    }

    [Fact]
    public void Enums_list_the_CSharp_enum_members()
    {
        Assert.Equal(Enum.GetNames<ProviderType>(), Provider.Properties["type"].EnumProperty.Cast<string>());
        Assert.Equal(["Daily", "Weekly", "Monthly", "Total"], Spec.Properties["budget"].Properties["period"].EnumProperty.Cast<string>());
    }

    [Fact]
    public void Secret_names_must_be_DNS_1123_subdomains()
    {
        const string Subdomain = @"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
        var secretName = Provider.Properties["secretRef"].Properties["name"];

        Assert.Equal((Subdomain, 253L), (secretName.Pattern, secretName.MaxLength));
        Assert.Equal(Subdomain, Spec.Properties["tokenSecretName"].Pattern);
    }

    [Fact]
    public void Limits_and_percentages_have_bounds()
    {
        var limits = Spec.Properties["limits"].Properties;
        Assert.All(limits.Values, limit => Assert.Equal(1, limit.Minimum));
        var alert = Spec.Properties["budget"].Properties["alertAtPercent"];
        Assert.Equal((1d, 100d), (alert.Minimum, alert.Maximum));
        Assert.Equal(UsdAmount.Pattern, Spec.Properties["budget"].Properties["maxCostUsd"].Pattern);
    }

    [Fact]
    public void Defaults_match_what_an_omitted_field_means_in_CSharp()
    {
        var provider = new ProviderSpec();
        Assert.Equal(provider.Weight, Convert.ToInt32(Provider.Properties["weight"].DefaultProperty));
        Assert.Equal(provider.Priority, Convert.ToInt32(Provider.Properties["priority"].DefaultProperty));
        Assert.Equal(nameof(BudgetPeriod.Monthly), Spec.Properties["budget"].Properties["period"].DefaultProperty);
        Assert.Equal(false, Spec.Properties["suspended"].DefaultProperty);
    }

    [Fact]
    public void Providers_and_conditions_are_list_maps_keyed_by_name_and_type()
    {
        var providers = Spec.Properties["providers"];
        var conditions = Root.Properties["status"].Properties["conditions"];

        Assert.Equal(("map", "name"), (providers.XKubernetesListType, providers.XKubernetesListMapKeys.Single()));
        Assert.Equal(("map", "type"), (conditions.XKubernetesListType, conditions.XKubernetesListMapKeys.Single()));
        Assert.Equal(1, providers.MinItems);
    }

    [Fact]
    public void The_YAML_reads_back_as_the_same_CRD_with_strings_that_look_like_booleans_still_strings()
    {
        var yaml = CrdGenerator.ToYaml(Crd);

        var fromYaml = YamlToJson.Parse(yaml);
        var fromModel = JsonNode.Parse(KubernetesJson.Serialize(Crd));

        Assert.True(JsonNode.DeepEquals(fromModel, JsonNode.Parse(fromYaml!.ToJsonString())), "the YAML does not read back as the generated CRD");
        Assert.Contains("- \"True\"", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public void The_YAML_is_the_same_every_time()
    {
        Assert.Equal(CrdGenerator.ToYaml(CrdGenerator.Generate(typeof(VirtualKey))), CrdGenerator.ToYaml(CrdGenerator.Generate(typeof(VirtualKey))));
    }

    [Fact]
    public void The_YAML_starts_with_how_to_regenerate_it()
    {
        Assert.StartsWith("# Generated from the C# types", CrdGenerator.ToYaml(Crd), StringComparison.Ordinal);
        Assert.Equal("aigateway.dev_virtualkeys.yaml", CrdGenerator.FileName(Crd));
    }

    [Fact]
    public void A_type_that_is_not_a_Kubernetes_entity_is_refused_with_its_name()
    {
        var error = Assert.Throws<InvalidOperationException>(() => CrdGenerator.Generate(typeof(VirtualKeySpec)));

        Assert.Contains("VirtualKeys.Model.VirtualKeySpec needs [KubernetesEntity]", error.Message, StringComparison.Ordinal);
    }

    private static IEnumerable<(string Path, V1JSONSchemaProps Schema, bool IsField)> Walk(string path, V1JSONSchemaProps schema, bool isField = false)
    {
        yield return (path, schema, isField);
        foreach (var (name, property) in schema.Properties ?? new Dictionary<string, V1JSONSchemaProps>())
        {
            foreach (var node in Walk($"{path}.{name}", property, isField: true))
            {
                yield return node;
            }
        }

        if (schema.Items is V1JSONSchemaProps items)
        {
            foreach (var node in Walk(path + "[]", items))
            {
                yield return node;
            }
        }

        if (schema.AdditionalProperties is V1JSONSchemaProps values)
        {
            foreach (var node in Walk(path + "{}", values))
            {
                yield return node;
            }
        }
    }
}
