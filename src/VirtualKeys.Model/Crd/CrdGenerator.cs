using System.Reflection;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace VirtualKeys.Model.Crd;

/// <summary>
/// Generates a CustomResourceDefinition from a resource's C# type, so that the committed CRD can
/// never drift from the code: names from <see cref="KubernetesEntityAttribute"/> and
/// <see cref="ResourceNamesAttribute"/>, columns from <see cref="PrinterColumnAttribute"/>, the schema
/// from the properties, their attributes and their doc comments.
/// </summary>
public static class CrdGenerator
{
    /// <summary>Where kubebuilder-style layouts keep the CRD, relative to the <c>config</c> directory.</summary>
    public const string BasesDirectory = "crd/bases";

    /// <summary>The first lines of <see cref="ToYaml"/>: the file is generated, and how to regenerate it.</summary>
    public const string Header =
        "# Generated from the C# types in src/VirtualKeys.Model; do not edit.\n" +
        "# Regenerate: dotnet run --project src/VirtualKeys.Cli -- crd --output config\n";

    /// <summary>The CRD of <paramref name="resourceType"/>, e.g. <c>typeof(VirtualKey)</c>, with a single served and stored version.</summary>
    /// <exception cref="InvalidOperationException">The type lacks an attribute, a doc comment or a mappable property type; the message names it.</exception>
    public static V1CustomResourceDefinition Generate(Type resourceType)
    {
        ArgumentNullException.ThrowIfNull(resourceType);
        var entity = resourceType.GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new InvalidOperationException($"{resourceType.FullName} needs [KubernetesEntity] to become a CRD.");
        var names = resourceType.GetCustomAttribute<ResourceNamesAttribute>()
            ?? throw new InvalidOperationException($"{resourceType.FullName} needs [ResourceNames] to become a CRD.");
        var schema = new SchemaBuilder(XmlDocumentation.Load(resourceType.Assembly)).ForResource(resourceType);
        var hasStatus = resourceType.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IStatus<>));
        var columns = resourceType.GetCustomAttributes<PrinterColumnAttribute>()
            .OrderBy(column => column.Order)
            .Select(column => new V1CustomResourceColumnDefinition { Name = column.Name, Type = column.Type, JsonPath = column.JsonPath })
            .ToList();

        return new V1CustomResourceDefinition
        {
            ApiVersion = "apiextensions.k8s.io/v1",
            Kind = "CustomResourceDefinition",
            Metadata = new V1ObjectMeta { Name = $"{entity.PluralName}.{entity.Group}" },
            Spec = new V1CustomResourceDefinitionSpec
            {
                Group = entity.Group,
                Names = new V1CustomResourceDefinitionNames
                {
                    Kind = entity.Kind,
                    ListKind = entity.Kind + "List",
                    Plural = entity.PluralName,
                    Singular = names.Singular,
                    ShortNames = names.ShortNames.Length > 0 ? names.ShortNames.ToList() : null,
                    Categories = names.Categories.Length > 0 ? names.Categories.ToList() : null,
                },
                Scope = names.ClusterScoped ? "Cluster" : "Namespaced",
                Versions =
                [
                    new V1CustomResourceDefinitionVersion
                    {
                        Name = entity.ApiVersion,
                        Served = true,
                        Storage = true,
                        Schema = new V1CustomResourceValidation { OpenAPIV3Schema = schema },
                        Subresources = hasStatus ? new V1CustomResourceSubresources { Status = new JsonObject() } : null,
                        AdditionalPrinterColumns = columns.Count > 0 ? columns : null,
                    },
                ],
            },
        };
    }

    /// <summary>The CRD as YAML, byte-for-byte the same for the same CRD, starting with <see cref="Header"/>.</summary>
    public static string ToYaml(V1CustomResourceDefinition crd)
    {
        ArgumentNullException.ThrowIfNull(crd);
        var json = JsonNode.Parse(KubernetesJson.Serialize(crd))!;
        return Header + YamlWriter.Write(json);
    }

    /// <summary>The CRD's file name in <see cref="BasesDirectory"/>, kubebuilder-style: <c>aigateway.dev_virtualkeys.yaml</c>.</summary>
    public static string FileName(V1CustomResourceDefinition crd)
    {
        ArgumentNullException.ThrowIfNull(crd);
        return $"{crd.Spec.Group}_{crd.Spec.Names.Plural}.yaml";
    }
}
