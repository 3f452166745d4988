using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VirtualKeys.LocalCluster.Errors;

namespace VirtualKeys.LocalCluster.Validation;

/// <summary>
/// Validates a custom resource against its CRD's openAPIV3Schema, worded like kube-openapi's
/// validator as the apiextensions server reports it (one cause per field). CEL rules
/// (x-kubernetes-validations) are not evaluated.
/// </summary>
internal static class SchemaValidator
{
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(200);

    public static List<FieldError> Validate(JsonObject root, JsonElement schema)
    {
        var errors = new List<FieldError>();
        if (schema.TryGetProperty("properties", out var properties))
        {
            foreach (var property in properties.EnumerateObject())
            {
                if (property.Name is "metadata" or "apiVersion" or "kind")
                {
                    continue;
                }

                if (root.TryGetPropertyValue(property.Name, out var value))
                {
                    ValidateNode(value, property.Value, property.Name, errors);
                }
            }
        }

        if (schema.TryGetProperty("required", out var required))
        {
            foreach (var name in required.EnumerateArray().Select(r => r.GetString() ?? ""))
            {
                if (name is not ("metadata" or "apiVersion" or "kind") && !root.ContainsKey(name))
                {
                    errors.Add(FieldError.Required(name));
                }
            }
        }

        return errors;
    }

    private static void ValidateNode(JsonNode? node, JsonElement schema, string path, List<FieldError> errors)
    {
        if (node is null)
        {
            if (!Flag(schema, "nullable") && schema.TryGetProperty("type", out var nullType))
            {
                errors.Add(FieldError.TypeInvalid(path, null, $"{path} in body must be of type {nullType.GetString()}: \"null\""));
            }

            return;
        }

        var kind = node.GetValueKind();
        if (!CheckType(node, kind, schema, path, errors))
        {
            return;
        }

        if (schema.TryGetProperty("enum", out var enumValues) && !enumValues.EnumerateArray().Any(e => JsonNode.DeepEquals(JsonNode.Parse(e.GetRawText()), node)))
        {
            var supported = enumValues.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? $"\"{e.GetString()}\"" : e.GetRawText());
            errors.Add(FieldError.NotSupported(path, node, supported));
        }

        switch (kind)
        {
            case JsonValueKind.Number:
                CheckNumber(double.Parse(node.ToJsonString(), CultureInfo.InvariantCulture), node, schema, path, errors);
                break;
            case JsonValueKind.String:
                CheckString(node.GetValue<string>(), node, schema, path, errors);
                break;
            case JsonValueKind.Array:
                CheckArray(node.AsArray(), schema, path, errors);
                break;
            case JsonValueKind.Object:
                CheckObject(node.AsObject(), schema, path, errors);
                break;
        }

        foreach (var combinator in new[] { "allOf", "anyOf", "oneOf" })
        {
            if (!schema.TryGetProperty(combinator, out var options))
            {
                continue;
            }

            var results = options.EnumerateArray().Select(option =>
            {
                var nested = new List<FieldError>();
                ValidateNode(node, option, path, nested);
                return nested;
            }).ToList();
            switch (combinator)
            {
                case "allOf":
                    errors.AddRange(results.SelectMany(r => r));
                    break;
                case "anyOf" when results.All(r => r.Count > 0):
                    errors.AddRange(results.SelectMany(r => r));
                    break;
                case "oneOf" when results.Count(r => r.Count == 0) != 1:
                    errors.Add(FieldError.Invalid(path, node, $"{path} in body must validate one and only one schema (oneOf)"));
                    break;
            }
        }

        if (schema.TryGetProperty("not", out var not))
        {
            var nested = new List<FieldError>();
            ValidateNode(node, not, path, nested);
            if (nested.Count == 0)
            {
                errors.Add(FieldError.Invalid(path, node, $"{path} in body should not be valid against schema"));
            }
        }
    }

    private static bool CheckType(JsonNode node, JsonValueKind kind, JsonElement schema, string path, List<FieldError> errors)
    {
        if (Flag(schema, "x-kubernetes-int-or-string"))
        {
            if (kind == JsonValueKind.String || (kind == JsonValueKind.Number && IsInteger(node)))
            {
                return true;
            }

            errors.Add(FieldError.TypeInvalid(path, node, $"{path} in body must be of type integer,string: \"{TypeName(node, kind)}\""));
            return false;
        }

        if (!schema.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
        {
            return true;
        }

        var type = typeElement.GetString();
        var ok = type switch
        {
            "object" => kind == JsonValueKind.Object,
            "array" => kind == JsonValueKind.Array,
            "string" => kind == JsonValueKind.String,
            "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
            "integer" => kind == JsonValueKind.Number && IsInteger(node),
            "number" => kind == JsonValueKind.Number,
            _ => true,
        };
        if (!ok)
        {
            errors.Add(FieldError.TypeInvalid(path, node, $"{path} in body must be of type {type}: \"{TypeName(node, kind)}\""));
        }

        return ok;
    }

    private static void CheckNumber(double value, JsonNode node, JsonElement schema, string path, List<FieldError> errors)
    {
        if (schema.TryGetProperty("minimum", out var minimum))
        {
            var exclusive = Flag(schema, "exclusiveMinimum");
            var limit = minimum.GetDouble();
            if (exclusive ? value <= limit : value < limit)
            {
                errors.Add(FieldError.Invalid(path, node, $"{path} in body should be greater than {(exclusive ? "" : "or equal to ")}{Number(minimum)}"));
            }
        }

        if (schema.TryGetProperty("maximum", out var maximum))
        {
            var exclusive = Flag(schema, "exclusiveMaximum");
            var limit = maximum.GetDouble();
            if (exclusive ? value >= limit : value > limit)
            {
                errors.Add(FieldError.Invalid(path, node, $"{path} in body should be less than {(exclusive ? "" : "or equal to ")}{Number(maximum)}"));
            }
        }

        if (schema.TryGetProperty("multipleOf", out var multipleOf) && multipleOf.GetDouble() is var factor and > 0
            && Math.Abs(Math.IEEERemainder(value, factor)) > 1e-9)
        {
            errors.Add(FieldError.Invalid(path, node, $"{path} in body should be a multiple of {Number(multipleOf)}"));
        }
    }

    private static void CheckString(string value, JsonNode node, JsonElement schema, string path, List<FieldError> errors)
    {
        var length = value.EnumerateRunes().Count();
        if (schema.TryGetProperty("maxLength", out var maxLength) && length > maxLength.GetInt32())
        {
            errors.Add(FieldError.TooLong(path, maxLength.GetInt32()));
        }

        if (schema.TryGetProperty("minLength", out var minLength) && length < minLength.GetInt32())
        {
            errors.Add(FieldError.Invalid(path, node, $"{path} in body should be at least {minLength.GetInt32()} chars long"));
        }

        if (schema.TryGetProperty("pattern", out var pattern))
        {
            bool matches;
            try
            {
                matches = Regex.IsMatch(value, pattern.GetString() ?? "", RegexOptions.CultureInvariant, RegexTimeout);
            }
            catch (RegexMatchTimeoutException)
            {
                matches = false;
            }

            if (!matches)
            {
                errors.Add(FieldError.Invalid(path, node, $"{path} in body should match '{pattern.GetString()}'"));
            }
        }

        if (schema.TryGetProperty("format", out var format) && !FormatHolds(format.GetString(), value))
        {
            errors.Add(FieldError.Invalid(path, node, $"{path} in body must be of type {format.GetString()}: \"{value}\""));
        }
    }

    private static void CheckArray(JsonArray array, JsonElement schema, string path, List<FieldError> errors)
    {
        if (schema.TryGetProperty("maxItems", out var maxItems) && array.Count > maxItems.GetInt32())
        {
            errors.Add(FieldError.TooMany(path, array.Count, maxItems.GetInt32()));
        }

        if (schema.TryGetProperty("minItems", out var minItems) && array.Count < minItems.GetInt32())
        {
            errors.Add(FieldError.Invalid(path, array, $"{path} in body should have at least {minItems.GetInt32()} items"));
        }

        var listType = schema.TryGetProperty("x-kubernetes-list-type", out var lt) ? lt.GetString() : null;
        if (Flag(schema, "uniqueItems") || listType == "set")
        {
            for (var i = 0; i < array.Count; i++)
            {
                for (var j = 0; j < i; j++)
                {
                    if (JsonNode.DeepEquals(array[i], array[j]))
                    {
                        errors.Add(FieldError.Duplicate($"{path}[{i}]", array[i]));
                        break;
                    }
                }
            }
        }
        else if (listType == "map" && schema.TryGetProperty("x-kubernetes-list-map-keys", out var mapKeys))
        {
            var keys = mapKeys.EnumerateArray().Select(k => k.GetString() ?? "").ToArray();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < array.Count; i++)
            {
                var identity = string.Join("\u0000", keys.Select(k => array[i]?[k]?.ToJsonString() ?? "null"));
                if (!seen.Add(identity))
                {
                    var value = new JsonObject(keys.Select(k => KeyValuePair.Create(k, array[i]?[k]?.DeepClone())));
                    errors.Add(FieldError.Duplicate($"{path}[{i}]", value));
                }
            }
        }

        if (schema.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Object)
        {
            for (var i = 0; i < array.Count; i++)
            {
                ValidateNode(array[i], items, $"{path}[{i}]", errors);
            }
        }
    }

    private static void CheckObject(JsonObject obj, JsonElement schema, string path, List<FieldError> errors)
    {
        if (schema.TryGetProperty("required", out var required))
        {
            foreach (var name in required.EnumerateArray().Select(r => r.GetString() ?? ""))
            {
                if (!obj.ContainsKey(name))
                {
                    errors.Add(FieldError.Required($"{path}.{name}"));
                }
            }
        }

        if (schema.TryGetProperty("maxProperties", out var maxProperties) && obj.Count > maxProperties.GetInt32())
        {
            errors.Add(FieldError.TooMany(path, obj.Count, maxProperties.GetInt32()));
        }

        if (schema.TryGetProperty("minProperties", out var minProperties) && obj.Count < minProperties.GetInt32())
        {
            errors.Add(FieldError.Invalid(path, obj, $"{path} in body should have at least {minProperties.GetInt32()} properties"));
        }

        schema.TryGetProperty("properties", out var properties);
        var additional = schema.TryGetProperty("additionalProperties", out var additionalSchema) && additionalSchema.ValueKind == JsonValueKind.Object
            ? additionalSchema
            : (JsonElement?)null;
        foreach (var (key, value) in obj)
        {
            var childPath = $"{path}.{key}";
            if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(key, out var propertySchema))
            {
                ValidateNode(value, propertySchema, childPath, errors);
            }
            else if (additional is { } additionalValue)
            {
                ValidateNode(value, additionalValue, childPath, errors);
            }
        }
    }

    private static bool FormatHolds(string? format, string value) => format switch
    {
        "date-time" => DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _) && value.Contains('T', StringComparison.OrdinalIgnoreCase),
        "date" => DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
        "byte" => IsBase64(value),
        "uuid" => Guid.TryParse(value, out _),
        "uri" => Uri.TryCreate(value, UriKind.Absolute, out _),
        _ => true,
    };

    private static bool IsBase64(string value)
    {
        var buffer = new byte[(value.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(value, buffer, out _);
    }

    private static bool Flag(JsonElement schema, string name) =>
        schema.TryGetProperty(name, out var flag) && flag.ValueKind == JsonValueKind.True;

    private static bool IsInteger(JsonNode node)
    {
        var raw = node.ToJsonString();
        return !raw.Contains('.', StringComparison.Ordinal) && !raw.Contains('e', StringComparison.OrdinalIgnoreCase);
    }

    private static string Number(JsonElement element) =>
        element.TryGetInt64(out var integer) ? integer.ToString(CultureInfo.InvariantCulture) : element.GetDouble().ToString(CultureInfo.InvariantCulture);

    private static string TypeName(JsonNode node, JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Number => IsInteger(node) ? "integer" : "number",
        _ => "null",
    };
}
