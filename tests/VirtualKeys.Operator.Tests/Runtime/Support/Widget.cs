using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace VirtualKeys.Operator.Tests.Runtime.Support;

/// <summary>A small custom resource, so the runtime is exercised on a CRD kind without the VirtualKey model.</summary>
[KubernetesEntity(Group = "test.aigateway.dev", ApiVersion = "v1", Kind = "Widget", PluralName = "widgets")]
internal sealed class Widget : IKubernetesObject<V1ObjectMeta>
{
    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = "test.aigateway.dev/v1";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = "Widget";

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public WidgetSpec Spec { get; set; } = new();

    public static async Task InstallCrdAsync(IKubernetes client)
    {
        var crd = new V1CustomResourceDefinition
        {
            Metadata = new V1ObjectMeta { Name = "widgets.test.aigateway.dev" },
            Spec = new V1CustomResourceDefinitionSpec
            {
                Group = "test.aigateway.dev",
                Scope = "Namespaced",
                Names = new V1CustomResourceDefinitionNames { Plural = "widgets", Singular = "widget", Kind = "Widget", ListKind = "WidgetList" },
                Versions =
                [
                    new V1CustomResourceDefinitionVersion
                    {
                        Name = "v1",
                        Served = true,
                        Storage = true,
                        Schema = new V1CustomResourceValidation
                        {
                            OpenAPIV3Schema = new V1JSONSchemaProps
                            {
                                Type = "object",
                                Properties = new Dictionary<string, V1JSONSchemaProps>
                                {
                                    ["spec"] = new()
                                    {
                                        Type = "object",
                                        Properties = new Dictionary<string, V1JSONSchemaProps>
                                        {
                                            ["color"] = new() { Type = "string" },

                                            // No bounds on purpose: the server stores sizes an int cannot hold.
                                            ["size"] = new() { Type = "integer" },
                                        },
                                    },
                                },
                            },
                        },
                    },
                ],
            },
        };
        await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd, cancellationToken: TestContext.Current.CancellationToken);
    }

    public static Task CreateAsync(IKubernetes client, string ns, string name, string color) =>
        client.CustomObjects.CreateNamespacedCustomObjectAsync(
            new Widget { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns }, Spec = new WidgetSpec { Color = color } },
            "test.aigateway.dev",
            "v1",
            ns,
            "widgets",
            cancellationToken: TestContext.Current.CancellationToken);
}
