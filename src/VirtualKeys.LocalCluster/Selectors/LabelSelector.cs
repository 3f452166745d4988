using VirtualKeys.LocalCluster.Errors;

namespace VirtualKeys.LocalCluster.Selectors;

/// <summary>
/// The labelSelector query syntax: <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k in (a,b)</c>,
/// <c>k notin (a,b)</c>, <c>k</c> and <c>!k</c>, joined by commas (all must hold).
/// </summary>
internal sealed class LabelSelector
{
    private readonly List<Func<IReadOnlyDictionary<string, string>, bool>> _requirements;

    private LabelSelector(List<Func<IReadOnlyDictionary<string, string>, bool>> requirements)
    {
        _requirements = requirements;
    }

    public static LabelSelector Everything { get; } = new([]);

    public bool IsEmpty => _requirements.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var requirement in _requirements)
        {
            if (!requirement(labels))
            {
                return false;
            }
        }

        return true;
    }

    public static LabelSelector Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }

        var requirements = new List<Func<IReadOnlyDictionary<string, string>, bool>>();
        foreach (var part in SplitTopLevel(text))
        {
            requirements.Add(ParseRequirement(part.Trim(), text));
        }

        return new LabelSelector(requirements);
    }

    private static Func<IReadOnlyDictionary<string, string>, bool> ParseRequirement(string part, string whole)
    {
        if (part.Length == 0)
        {
            throw Bad(whole, "found '', expected: identifier");
        }

        if (part.StartsWith('!'))
        {
            var key = RequireKey(part[1..].Trim(), whole);
            return labels => !labels.ContainsKey(key);
        }

        var setMatch = FindSetOperator(part);
        if (setMatch is { } set)
        {
            var key = RequireKey(part[..set.Index].Trim(), whole);
            var rest = part[(set.Index + set.Length)..].Trim();
            if (!rest.StartsWith('(') || !rest.EndsWith(')'))
            {
                throw Bad(whole, $"found '{rest}', expected: '('");
            }

            var values = rest[1..^1].Split(',').Select(v => v.Trim()).ToHashSet(StringComparer.Ordinal);
            return set.Negated
                ? labels => !labels.TryGetValue(key, out var v) || !values.Contains(v)
                : labels => labels.TryGetValue(key, out var v) && values.Contains(v);
        }

        foreach (var op in new[] { "!=", "==", "=" })
        {
            var index = part.IndexOf(op, StringComparison.Ordinal);
            if (index >= 0)
            {
                var key = RequireKey(part[..index].Trim(), whole);
                var value = part[(index + op.Length)..].Trim();
                return op == "!="
                    ? labels => !labels.TryGetValue(key, out var v) || v != value
                    : labels => labels.TryGetValue(key, out var v) && v == value;
            }
        }

        var existsKey = RequireKey(part, whole);
        return labels => labels.ContainsKey(existsKey);
    }

    private static (int Index, int Length, bool Negated)? FindSetOperator(string part)
    {
        var tokens = part.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length >= 2 && (tokens[1] == "in" || tokens[1] == "notin" || tokens[1].StartsWith("in(", StringComparison.Ordinal) || tokens[1].StartsWith("notin(", StringComparison.Ordinal)))
        {
            var negated = tokens[1].StartsWith("notin", StringComparison.Ordinal);
            var word = negated ? "notin" : "in";
            var index = part.IndexOf(" " + word, StringComparison.Ordinal) + 1;
            return (index, word.Length, negated);
        }

        return null;
    }

    private static string RequireKey(string key, string whole)
    {
        if (key.Length == 0 || key.Any(c => char.IsWhiteSpace(c) || c is '(' or ')' or '=' or '!' or ','))
        {
            throw Bad(whole, $"invalid label key \"{key}\"");
        }

        return key;
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case ',' when depth == 0:
                    yield return text[start..i];
                    start = i + 1;
                    break;
            }
        }

        yield return text[start..];
    }

    private static ApiException Bad(string whole, string detail) =>
        ApiErrors.BadRequest($"unable to parse requirement: {detail} in labelSelector \"{whole}\"");
}
