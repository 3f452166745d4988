using System.Globalization;
using System.Text;
using k8s.Models;
using VirtualKeys.Model;
using VirtualKeys.Model.Crd;

namespace VirtualKeys.Cli.Docs;

/// <summary>
/// Writes the VirtualKey field reference as Markdown from the CRD that the C# model generates, so
/// that the reference says exactly what the API server enforces: every field, its type, default,
/// validation and description (the doc comment).
/// </summary>
internal static class ReferenceGenerator
{
    public const string RelativePath = "docs/reference/virtualkey.md";

    public static string Generate()
    {
        var crd = CrdGenerator.Generate(typeof(VirtualKey));
        var version = crd.Spec.Versions.Single();
        var root = version.Schema.OpenAPIV3Schema;
        var names = crd.Spec.Names;
        var text = new StringBuilder();
        text.Append("# VirtualKey reference\n\n");
        text.Append("<!-- Generated from the C# types in src/VirtualKeys.Model; do not edit. -->\n");
        text.Append("<!-- Regenerate: dotnet run --project src/VirtualKeys.Cli -- docs reference --output docs/reference/virtualkey.md -->\n\n");
        text.Append(CultureInfo.InvariantCulture, $"`{crd.Spec.Group}/{version.Name}`, kind `{names.Kind}`, {crd.Spec.Scope.ToLowerInvariant()}, ");
        text.Append(CultureInfo.InvariantCulture, $"plural `{names.Plural}`, short name {string.Join(", ", names.ShortNames.Select(n => $"`{n}`"))}, ");
        text.Append(CultureInfo.InvariantCulture, $"category `{string.Join("`, `", names.Categories)}`; ");
        text.Append(version.Subresources?.Status is null ? "no status subresource.\n\n" : "status is a subresource (only the operator writes it).\n\n");
        text.Append(root.Description).Append("\n\n");

        text.Append("## Columns of `kubectl get vk`\n\n");
        text.Append("| column | type | from |\n| --- | --- | --- |\n");
        foreach (var column in version.AdditionalPrinterColumns ?? [])
        {
            text.Append(CultureInfo.InvariantCulture, $"| {column.Name} | {column.Type} | {Code(column.JsonPath)} |\n");
        }

        foreach (var section in new[] { "spec", "status" })
        {
            var schema = root.Properties[section];
            text.Append(CultureInfo.InvariantCulture, $"\n## {section}\n\n");
            text.Append(schema.Description).Append("\n\n");
            text.Append("| field | type | default | validation | description |\n| --- | --- | --- | --- | --- |\n");
            foreach (var (path, field, required) in Flatten(section, schema))
            {
                text.Append(CultureInfo.InvariantCulture, $"| {Code(path)} | {TypeOf(field)} | {DefaultOf(field)} | {Cell(Rules(field, required))} | {Cell(field.Description ?? "")} |\n");
            }
        }

        text.Append("\n## Condition reasons\n\n");
        text.Append("`status.conditions[]` of type `Ready` (and `BudgetAlert`) carry one of these reasons:\n\n");
        text.Append("| reason | meaning |\n| --- | --- |\n");
        var summaries = FieldSummaries.Load(typeof(ConditionReasons));
        foreach (var field in typeof(ConditionReasons).GetFields())
        {
            var value = (string)field.GetRawConstantValue()!;
            text.Append(CultureInfo.InvariantCulture, $"| `{value}` | {Cell(summaries.GetValueOrDefault(field.Name, ""))} |\n");
        }

        return text.ToString();
    }

    private static IEnumerable<(string Path, V1JSONSchemaProps Field, bool Required)> Flatten(string path, V1JSONSchemaProps schema)
    {
        if (schema.Properties is null)
        {
            yield break;
        }

        foreach (var (name, field) in schema.Properties.OrderBy(entry => entry.Key, StringComparer.Ordinal))
        {
            var fieldPath = $"{path}.{name}";
            yield return (fieldPath, field, schema.Required?.Contains(name) == true);
            var nested = field.Type == "array" ? field.Items as V1JSONSchemaProps : field;
            var nestedPath = field.Type == "array" ? fieldPath + "[]" : fieldPath;
            if (nested is not null)
            {
                foreach (var child in Flatten(nestedPath, nested))
                {
                    yield return child;
                }
            }
        }
    }

    private static string TypeOf(V1JSONSchemaProps field)
    {
        if (field.EnumProperty is { Count: > 0 } values)
        {
            return "enum: " + string.Join(", ", values.Select(v => $"`{v}`"));
        }

        return field.Type switch
        {
            "array" when field.Items is V1JSONSchemaProps item => "array of " + TypeOf(item),
            "object" when field.AdditionalProperties is V1JSONSchemaProps value => "map of string to " + TypeOf(value),
            "string" when field.Format == "date-time" => "string (RFC 3339 time)",
            "integer" when field.Format is not null => $"integer ({field.Format})",
            _ => field.Type ?? "any",
        };
    }

    private static string DefaultOf(V1JSONSchemaProps field) => field.DefaultProperty switch
    {
        null => "",
        bool flag => flag ? "`true`" : "`false`",
        IFormattable number => $"`{number.ToString(null, CultureInfo.InvariantCulture)}`",
        var other => $"`{other}`",
    };

    private static string Rules(V1JSONSchemaProps field, bool required)
    {
        var rules = new List<string>();
        if (required)
        {
            rules.Add("required");
        }

        if (field.MinLength is not null || field.MaxLength is not null)
        {
            rules.Add(Range("length", field.MinLength, field.MaxLength));
        }

        if (field.Minimum is not null || field.Maximum is not null)
        {
            rules.Add(Range("value", field.Minimum, field.Maximum));
        }

        if (field.MinItems is not null || field.MaxItems is not null)
        {
            rules.Add(Range("items", field.MinItems, field.MaxItems));
        }

        if (field.Pattern is not null)
        {
            rules.Add($"pattern `{field.Pattern}`");
        }

        if (field.XKubernetesListType == "map")
        {
            rules.Add("unique by " + string.Join(", ", field.XKubernetesListMapKeys.Select(k => $"`{k}`")));
        }

        return string.Join("; ", rules);
    }

    private static string Range(string what, double? minimum, double? maximum) => (minimum, maximum) switch
    {
        ({ } low, { } high) => string.Create(CultureInfo.InvariantCulture, $"{what} {low}–{high}"),
        ({ } low, null) => string.Create(CultureInfo.InvariantCulture, $"{what} ≥ {low}"),
        (null, { } high) => string.Create(CultureInfo.InvariantCulture, $"{what} ≤ {high}"),
        _ => "",
    };

    private static string Range(string what, long? minimum, long? maximum) =>
        Range(what, (double?)minimum, maximum);

    private static string Code(string text) => $"`{text.Replace("|", "\\|", StringComparison.Ordinal)}`";

    // A Markdown table cell is one line, and a bare '|' would end it.
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
}
