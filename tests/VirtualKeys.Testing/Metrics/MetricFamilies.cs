using System.Text.RegularExpressions;

namespace VirtualKeys.Testing.Metrics;

/// <summary>
/// The project's metric names and label names as a scrape exposes them and as docs/operations.md
/// documents them, so tests can hold the two to each other.
/// </summary>
public static partial class MetricFamilies
{
    /// <summary>
    /// The value of one series, named as the exposition writes it (<c>name</c> or
    /// <c>name{label="value"}</c>); NaN when the exposition does not have it.
    /// </summary>
    public static double Sample(string exposition, string series)
    {
        ArgumentNullException.ThrowIfNull(exposition);
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return double.NaN;
    }

    /// <summary>The families a Prometheus text exposition announces (one <c># HELP</c> line each) whose name starts with <paramref name="prefix"/>.</summary>
    public static IReadOnlySet<string> InScrape(string exposition, string prefix)
    {
        ArgumentNullException.ThrowIfNull(exposition);
        return exposition.Split('\n')
            .Where(line => line.StartsWith("# HELP ", StringComparison.Ordinal))
            .Select(line => line.Split(' ')[2])
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// The label names each family starting with <paramref name="prefix"/> carries in the exposition's
    /// samples, for the families that have at least one sample. A histogram's <c>_bucket</c>,
    /// <c>_sum</c> and <c>_count</c> series count as its family's; their <c>le</c> is left out.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlySet<string>> LabelsInScrape(string exposition, string prefix)
    {
        var families = InScrape(exposition, prefix);
        var labels = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var line in exposition.Split('\n'))
        {
            if (!line.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var nameEnd = line.IndexOfAny(['{', ' ']);
            var name = line[..nameEnd];
            var family = families.Contains(name) ? name : FamilyOfSeries(name, families)
                ?? throw new InvalidOperationException($"the sample '{name}' belongs to no family announced by a # HELP line");
            var set = labels.TryGetValue(family, out var known) ? known : labels[family] = new HashSet<string>(StringComparer.Ordinal);
            if (line[nameEnd] == '{')
            {
                set.UnionWith(LabelNames(line, nameEnd + 1).Where(label => label != "le"));
            }
        }

        return labels.ToDictionary(pair => pair.Key, pair => (IReadOnlySet<string>)pair.Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// The metric names in the first column of the tables in docs/operations.md that start with
    /// <paramref name="prefix"/>, label lists (<c>{key}</c>) dropped.
    /// </summary>
    public static IReadOnlySet<string> Documented(string prefix) => DocumentedLabels(prefix).Keys.ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The metrics in the first column of the tables in docs/operations.md that start with
    /// <paramref name="prefix"/>, each with the labels listed after it in braces (none when it has no braces).
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlySet<string>> DocumentedLabels(string prefix)
    {
        var text = File.ReadAllText(Path.Combine(ToolPaths.RepositoryRoot, "docs", "operations.md"));
        return text.Split('\n')
            .Where(line => line.StartsWith("| `", StringComparison.Ordinal))
            .SelectMany(line => Names().Matches(line.Split('|')[1]))
            .Where(match => match.Groups[1].Value.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(
                match => match.Groups[1].Value,
                match => (IReadOnlySet<string>)match.Groups[2].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .ToHashSet(StringComparer.Ordinal),
                StringComparer.Ordinal);
    }

    private static string? FamilyOfSeries(string name, IReadOnlySet<string> families)
    {
        foreach (var suffix in (string[])["_bucket", "_sum", "_count"])
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && families.Contains(name[..^suffix.Length]))
            {
                return name[..^suffix.Length];
            }
        }

        return null;
    }

    // name="value",name="value"} ... with the text format's escapes (\\, \", \n) inside values.
    private static IEnumerable<string> LabelNames(string line, int at)
    {
        while (at < line.Length && line[at] != '}')
        {
            var equals = line.IndexOf('=', at);
            yield return line[at..equals].Trim();
            at = equals + 2;
            while (line[at] != '"')
            {
                at += line[at] == '\\' ? 2 : 1;
            }

            at++;
            if (line[at] == ',')
            {
                at++;
            }
        }
    }

    [GeneratedRegex(@"`([a-z_][a-z0-9_]*)(?:\{([^}`]*)\})?`")]
    private static partial Regex Names();
}
