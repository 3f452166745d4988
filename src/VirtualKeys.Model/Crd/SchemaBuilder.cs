using System.Globalization;
using System.Reflection;
using System.Text.Json.Serialization;
using k8s.Models;
using YamlDotNet.Serialization.NamingConventions;

namespace VirtualKeys.Model.Crd;

/// <summary>
/// Turns C# types into a structural OpenAPI v3 schema: every property typed, objects with fixed
/// properties, maps as <c>additionalProperties</c>, constraints from the attributes in this namespace
/// and descriptions from the doc comments. Anything it cannot map is an error, never a loose schema.
/// </summary>
internal sealed class SchemaBuilder(XmlDocumentation docs)
{
    public V1JSONSchemaProps ForResource(Type resourceType)
    {
        var schema = ObjectSchema(resourceType);
        schema.Description = docs.Summary(resourceType) ?? throw MissingDoc("type " + resourceType.FullName);
        return schema;
    }

    private V1JSONSchemaProps ForProperty(PropertyInfo property)
    {
        var schema = ForType(property.PropertyType, property);
        schema.Description = docs.Summary(property) ?? throw MissingDoc($"property {property.DeclaringType!.FullName}.{property.Name}");
        ApplyConstraints(schema, property);
        return schema;
    }

    private V1JSONSchemaProps ForType(Type type, PropertyInfo? property)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return new() { Type = "string" };
        }

        if (type == typeof(int))
        {
            // The API server does not enforce a numeric format: without the bounds, a value beyond
            // int32 is stored and no client that reads it as an int can decode the object.
            return new() { Type = "integer", Format = "int32", Minimum = int.MinValue, Maximum = int.MaxValue };
        }

        if (type == typeof(long))
        {
            return new() { Type = "integer", Format = "int64" };
        }

        if (type == typeof(bool))
        {
            return new() { Type = "boolean" };
        }

        if (type == typeof(double))
        {
            return new() { Type = "number", Format = "double" };
        }

        if (type == typeof(DateTimeOffset) || type == typeof(DateTime))
        {
            return new() { Type = "string", Format = "date-time" };
        }

        if (type.IsEnum)
        {
            return new() { Type = "string", EnumProperty = Enum.GetNames(type).Cast<object>().ToList() };
        }

        if (type == typeof(V1ObjectMeta))
        {
            return new() { Type = "object" };
        }

        if (type == typeof(V1Condition))
        {
            return ConditionSchema();
        }

        if (GenericArgument(type, typeof(IDictionary<,>)) is { } mapInterface)
        {
            if (mapInterface.GetGenericArguments()[0] != typeof(string))
            {
                throw Unsupported(type, property, "map keys must be strings");
            }

            return new() { Type = "object", AdditionalProperties = ItemSchema(mapInterface.GetGenericArguments()[1], property) };
        }

        if (type != typeof(string) && GenericArgument(type, typeof(IEnumerable<>)) is { } listInterface)
        {
            return new() { Type = "array", Items = ItemSchema(listInterface.GetGenericArguments()[0], property) };
        }

        if (type.IsClass && type.Assembly == typeof(SchemaBuilder).Assembly)
        {
            return ObjectSchema(type);
        }

        throw Unsupported(type, property, "no schema mapping for this type (use string for decimals)");
    }

    private V1JSONSchemaProps ItemSchema(Type itemType, PropertyInfo? property)
    {
        var schema = ForType(itemType, property);
        if (schema.Description is null && schema.Type == "object")
        {
            schema.Description = docs.Summary(itemType);
        }

        return schema;
    }

    private V1JSONSchemaProps ObjectSchema(Type type)
    {
        var properties = new SortedDictionary<string, V1JSONSchemaProps>(StringComparer.Ordinal);
        var required = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!property.CanRead || !property.CanWrite || property.GetIndexParameters().Length > 0)
            {
                continue;
            }

            var name = WireName(property);
            properties.Add(name, ForProperty(property));
            if (property.IsDefined(typeof(RequiredAttribute)))
            {
                required.Add(name);
            }
        }

        return new()
        {
            Type = "object",
            Properties = properties,
            Required = required.Count > 0 ? required.ToList() : null,
        };
    }

    /// <summary>
    /// The JSON name, which KubernetesJson takes from the attribute and KubernetesYaml from its camel-case
    /// convention (it honours JsonPropertyName only for its own models): both must agree.
    /// </summary>
    private static string WireName(PropertyInfo property)
    {
        var name = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name
            ?? throw new InvalidOperationException($"{property.DeclaringType!.FullName}.{property.Name} needs [JsonPropertyName]: the CRD spells every field explicitly.");
        var yamlName = CamelCaseNamingConvention.Instance.Apply(property.Name);
        return yamlName == name
            ? name
            : throw new InvalidOperationException($"{property.DeclaringType!.FullName}.{property.Name} is \"{name}\" in JSON but \"{yamlName}\" in YAML: rename the property or the JSON name.");
    }

    private static void ApplyConstraints(V1JSONSchemaProps schema, PropertyInfo property)
    {
        foreach (var attribute in property.GetCustomAttributes(inherit: false))
        {
            switch (attribute)
            {
                case LengthAttribute length:
                    Expect(schema, "string", property, attribute);
                    schema.MinLength = length.MinLength >= 0 ? length.MinLength : null;
                    schema.MaxLength = length.MaxLength >= 0 ? length.MaxLength : null;
                    break;
                case PatternAttribute pattern:
                    Expect(schema, "string", property, attribute);
                    schema.Pattern = pattern.Pattern;
                    break;
                case RangeMinimumAttribute minimum:
                    Expect(schema, "integer", property, attribute);
                    schema.Minimum = minimum.Minimum;
                    break;
                case RangeMaximumAttribute maximum:
                    Expect(schema, "integer", property, attribute);
                    schema.Maximum = maximum.Maximum;
                    break;
                case ItemsAttribute items:
                    Expect(schema, "array", property, attribute);
                    schema.MinItems = items.MinItems >= 0 ? items.MinItems : null;
                    schema.MaxItems = items.MaxItems >= 0 ? items.MaxItems : null;
                    break;
                case ListMapAttribute listMap:
                    Expect(schema, "array", property, attribute);
                    schema.XKubernetesListType = "map";
                    schema.XKubernetesListMapKeys = listMap.Keys.ToList();
                    break;
                case DefaultAttribute defaultValue:
                    schema.DefaultProperty = CheckedDefault(defaultValue.Value, property);
                    break;
            }
        }
    }

    // The API server fills in the schema default, C# the initializer: an omitted field must mean the same to both.
    private static object CheckedDefault(object value, PropertyInfo property)
    {
        var initial = property.GetValue(Activator.CreateInstance(property.DeclaringType!));
        var initialText = Convert.ToString(initial, CultureInfo.InvariantCulture);
        var defaultText = Convert.ToString(value, CultureInfo.InvariantCulture);
        return initialText == defaultText
            ? value
            : throw new InvalidOperationException($"{property.DeclaringType!.FullName}.{property.Name} starts as {initialText} in C# but its schema default is {defaultText}.");
    }

    private static void Expect(V1JSONSchemaProps schema, string type, PropertyInfo property, object attribute)
    {
        if (schema.Type != type)
        {
            throw new InvalidOperationException($"[{attribute.GetType().Name}] on {property.DeclaringType!.FullName}.{property.Name} needs a property of schema type {type}, not {schema.Type}.");
        }
    }

    private static Type? GenericArgument(Type type, Type openInterface) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == openInterface
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == openInterface);

    private static InvalidOperationException MissingDoc(string member) =>
        new($"The {member} has no doc comment <summary>; it becomes the field's description in the CRD, so write one.");

    private static NotSupportedException Unsupported(Type type, PropertyInfo? property, string why) =>
        new($"{type} ({(property is null ? "item" : $"{property.DeclaringType!.FullName}.{property.Name}")}): {why}.");

    /// <summary>The schema of metav1.Condition, the standard shape of status conditions.</summary>
    private static V1JSONSchemaProps ConditionSchema() => new()
    {
        Type = "object",
        Description = "One aspect of the resource's current state.",
        Required = ["lastTransitionTime", "message", "reason", "status", "type"],
        Properties = new SortedDictionary<string, V1JSONSchemaProps>(StringComparer.Ordinal)
        {
            ["lastTransitionTime"] = new()
            {
                Type = "string",
                Format = "date-time",
                Description = "When status last changed value.",
            },
            ["message"] = new()
            {
                Type = "string",
                MaxLength = 32768,
                Description = "Details for a person: what is wrong and which field or Secret to fix. May be empty.",
            },
            ["observedGeneration"] = new()
            {
                Type = "integer",
                Format = "int64",
                Minimum = 0,
                Description = "The metadata.generation this condition was computed from.",
            },
            ["reason"] = new()
            {
                Type = "string",
                MinLength = 1,
                MaxLength = 1024,
                Pattern = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
                Description = "Why status has its value, as a CamelCase word for programs.",
            },
            ["status"] = new()
            {
                Type = "string",
                EnumProperty = ["True", "False", "Unknown"],
                Description = "True, False or Unknown.",
            },
            ["type"] = new()
            {
                Type = "string",
                MaxLength = 316,
                Pattern = @"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
                Description = "The aspect this condition describes, in CamelCase, e.g. Ready.",
            },
        },
    };
}
