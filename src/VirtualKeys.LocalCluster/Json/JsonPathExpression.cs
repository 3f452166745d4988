using System.Globalization;
using System.Text;
using System.Text.Json;

namespace VirtualKeys.LocalCluster.Json;

/// <summary>
/// The subset of kubectl's JSONPath that printer columns use: <c>.a.b</c>, <c>['a.b']</c>,
/// <c>[0]</c>, <c>[*]</c>, and filters such as <c>[?(@.type=="Ready")]</c> (== and !=).
/// </summary>
internal sealed class JsonPathExpression
{
    private readonly List<Step> _steps;

    private JsonPathExpression(List<Step> steps)
    {
        _steps = steps;
    }

    public static JsonPathExpression Parse(string text)
    {
        var path = text.Trim();
        if (path.StartsWith('{') && path.EndsWith('}'))
        {
            path = path[1..^1].Trim();
        }

        if (path.StartsWith('$'))
        {
            path = path[1..];
        }

        var steps = new List<Step>();
        var i = 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                i++;
                var name = new StringBuilder();
                while (i < path.Length && path[i] != '.' && path[i] != '[')
                {
                    if (path[i] == '\\' && i + 1 < path.Length)
                    {
                        i++;
                    }

                    name.Append(path[i++]);
                }

                if (name.Length > 0)
                {
                    steps.Add(name.ToString() == "*" ? new Step(StepKind.All, "", null) : new Step(StepKind.Property, name.ToString(), null));
                }
            }
            else if (path[i] == '[')
            {
                var end = FindClosingBracket(path, i);
                var inner = path[(i + 1)..end].Trim();
                i = end + 1;
                if (inner == "*")
                {
                    steps.Add(new Step(StepKind.All, "", null));
                }
                else if (inner.StartsWith("?(", StringComparison.Ordinal) && inner.EndsWith(')'))
                {
                    steps.Add(new Step(StepKind.Filter, "", ParseFilter(inner[2..^1])));
                }
                else if (inner.Length >= 2 && (inner[0] is '\'' or '"'))
                {
                    steps.Add(new Step(StepKind.Property, inner[1..^1], null));
                }
                else if (int.TryParse(inner, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                {
                    steps.Add(new Step(StepKind.Index, inner, null));
                }
                else
                {
                    throw new FormatException($"unsupported JSONPath segment [{inner}] in {text}");
                }
            }
            else
            {
                throw new FormatException($"unexpected '{path[i]}' in JSONPath {text}");
            }
        }

        return new JsonPathExpression(steps);
    }

    public List<JsonElement> Evaluate(JsonElement root)
    {
        var current = new List<JsonElement> { root };
        foreach (var step in _steps)
        {
            var next = new List<JsonElement>();
            foreach (var element in current)
            {
                Apply(step, element, next);
            }

            current = next;
        }

        return current;
    }

    private static void Apply(Step step, JsonElement element, List<JsonElement> results)
    {
        switch (step.Kind)
        {
            case StepKind.Property when element.ValueKind == JsonValueKind.Object && element.TryGetProperty(step.Name, out var child):
                results.Add(child);
                break;
            case StepKind.Index when element.ValueKind == JsonValueKind.Array:
                var index = int.Parse(step.Name, CultureInfo.InvariantCulture);
                var length = element.GetArrayLength();
                if (index < 0)
                {
                    index += length;
                }

                if (index >= 0 && index < length)
                {
                    results.Add(element[index]);
                }

                break;
            case StepKind.All when element.ValueKind == JsonValueKind.Array:
                results.AddRange(element.EnumerateArray());
                break;
            case StepKind.All when element.ValueKind == JsonValueKind.Object:
                results.AddRange(element.EnumerateObject().Select(p => p.Value));
                break;
            case StepKind.Filter when element.ValueKind == JsonValueKind.Array:
                results.AddRange(element.EnumerateArray().Where(item => step.Filter!.Matches(item)));
                break;
        }
    }

    private static Filter ParseFilter(string text)
    {
        var op = text.Contains("!=", StringComparison.Ordinal) ? "!=" : "==";
        var parts = text.Split(op, 2);
        if (parts.Length != 2)
        {
            var existence = Parse(parts[0].Trim().TrimStart('@'));
            return new Filter(existence, null, op, ExistenceOnly: true);
        }

        var left = parts[0].Trim();
        if (!left.StartsWith('@'))
        {
            throw new FormatException($"unsupported JSONPath filter {text}");
        }

        var literal = parts[1].Trim();
        string? expected = literal.Length >= 2 && literal[0] is '"' or '\'' ? literal[1..^1] : literal;
        return new Filter(Parse(left[1..]), expected, op, ExistenceOnly: false);
    }

    private static int FindClosingBracket(string path, int open)
    {
        var quote = '\0';
        for (var i = open + 1; i < path.Length; i++)
        {
            var c = path[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
            }
            else if (c == ']')
            {
                return i;
            }
        }

        throw new FormatException($"unclosed [ in JSONPath {path}");
    }

    private enum StepKind
    {
        Property,
        Index,
        All,
        Filter,
    }

    private sealed record Step(StepKind Kind, string Name, Filter? Filter);

    private sealed record Filter(JsonPathExpression Left, string? Expected, string Operator, bool ExistenceOnly)
    {
        public bool Matches(JsonElement item)
        {
            var values = Left.Evaluate(item);
            if (ExistenceOnly)
            {
                return values.Count > 0;
            }

            var actual = values.Count == 0 ? null : values[0].ValueKind == JsonValueKind.String ? values[0].GetString() : values[0].GetRawText();
            return Operator == "==" ? actual == Expected : actual != Expected;
        }
    }
}
