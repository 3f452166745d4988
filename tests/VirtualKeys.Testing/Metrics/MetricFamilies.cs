using System.Text.RegularExpressions;

namespace VirtualKeys.Testing.Metrics;

/// <summary>
/// The project's metric names as a scrape exposes them and as docs/operations.md documents them, so
/// tests can hold the two to each other.
/// </summary>
public static partial class MetricFamilies
{
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
    /// The metric names in the first column of the tables in docs/operations.md that start with
    /// <paramref name="prefix"/>, label lists (<c>{key}</c>) dropped.
    /// </summary>
    public static IReadOnlySet<string> Documented(string prefix)
    {
        var text = File.ReadAllText(Path.Combine(ToolPaths.RepositoryRoot, "docs", "operations.md"));
        return text.Split('\n')
            .Where(line => line.StartsWith("| `", StringComparison.Ordinal))
            .SelectMany(line => Names().Matches(line.Split('|')[1]).Select(match => match.Groups[1].Value))
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"`([a-z_][a-z0-9_]*)(?:\{[^}`]*\})?`")]
    private static partial Regex Names();
}
