using System.Text.Json;
using VirtualKeys.LocalCluster.Errors;
using VirtualKeys.LocalCluster.Registry;
using VirtualKeys.LocalCluster.Storage;

namespace VirtualKeys.LocalCluster.Selectors;

/// <summary>
/// fieldSelector: <c>path=value</c>, <c>path==value</c>, <c>path!=value</c>, comma-joined, over
/// metadata.name, metadata.namespace and the fields a resource declares selectable.
/// </summary>
internal sealed class FieldSelector
{
    private readonly List<(string Path, string Value, bool Negated)> _terms;

    private FieldSelector(List<(string Path, string Value, bool Negated)> terms)
    {
        _terms = terms;
    }

    public static FieldSelector Everything { get; } = new([]);

    public bool IsEmpty => _terms.Count == 0;

    /// <summary>The name a <c>metadata.name=</c> term pins the selection to, if any.</summary>
    public string? ExactName => _terms.FirstOrDefault(t => t.Path == "metadata.name" && !t.Negated).Value;

    public static FieldSelector Parse(string? text, ResourceType type)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }

        var terms = new List<(string, string, bool)>();
        foreach (var raw in text.Split(','))
        {
            var part = raw.Trim();
            var (op, index) = part.IndexOf("!=", StringComparison.Ordinal) is var ne and >= 0 ? ("!=", ne)
                : part.IndexOf("==", StringComparison.Ordinal) is var eq and >= 0 ? ("==", eq)
                : ("=", part.IndexOf('=', StringComparison.Ordinal));
            if (index <= 0)
            {
                throw ApiErrors.BadRequest($"invalid selector: '{text}'; can't understand '{part}'");
            }

            var path = part[..index].Trim();
            if (path is not ("metadata.name" or "metadata.namespace") && !type.SelectableFields.Contains(path))
            {
                throw ApiErrors.BadRequest($"field label not supported: {path}");
            }

            terms.Add((path, part[(index + op.Length)..].Trim(), op == "!="));
        }

        return new FieldSelector(terms);
    }

    public bool Matches(StoredObject stored)
    {
        foreach (var (path, value, negated) in _terms)
        {
            var actual = path switch
            {
                "metadata.name" => stored.Name,
                "metadata.namespace" => stored.Namespace,
                _ => Lookup(stored.Element, path),
            };
            if ((actual == value) == negated)
            {
                return false;
            }
        }

        return true;
    }

    private static string Lookup(JsonElement element, string path)
    {
        if (path == "source")
        {
            path = "source.component";
        }

        foreach (var segment in path.Split('.'))
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(segment, out element))
            {
                return "";
            }
        }

        return element.ValueKind switch
        {
            JsonValueKind.String => element.GetString() ?? "",
            JsonValueKind.Null or JsonValueKind.Undefined => "",
            _ => element.GetRawText(),
        };
    }
}
