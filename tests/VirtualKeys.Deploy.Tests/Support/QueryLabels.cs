using System.Text.RegularExpressions;
using VirtualKeys.Testing.Metrics;

namespace VirtualKeys.Deploy.Tests.Support;

/// <summary>
/// The label names a PromQL query (an alert's or a dashboard panel's) uses, held to the labels its
/// metrics have. A made-up label is valid PromQL: grouping by it merges every series into one,
/// a matcher on it matches nothing, and <c>$labels</c> or a legend naming it prints nothing.
/// </summary>
internal static partial class QueryLabels
{
    /// <summary>The labels Prometheus adds to every scraped series (as the Prometheus Operator's monitors set them).</summary>
    public static readonly IReadOnlySet<string> TargetLabels =
        new HashSet<string>(["namespace", "pod", "service", "job", "instance", "container", "endpoint"], StringComparer.Ordinal);

    /// <summary>The project's metrics (vk_) a query reads; a histogram's _bucket series as its family.</summary>
    public static IReadOnlySet<string> MetricsRead(string query) =>
        MetricNames().Matches(query).Select(match => match.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

    /// <summary>Label names in the query's grouping clauses (by, without, on, ignoring, group_left, group_right) and matchers.</summary>
    public static IReadOnlySet<string> Used(string query)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match clause in Groupings().Matches(query))
        {
            used.UnionWith(clause.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        foreach (Match selector in Selectors().Matches(query))
        {
            used.UnionWith(Matchers().Matches(selector.Groups[1].Value).Select(m => m.Groups[1].Value));
        }

        return used;
    }

    /// <summary>
    /// The labels the series a query reads can carry: the documented labels of each metric it reads
    /// (docs/operations.md, which the operator's and sidecar's tests hold to their scrapes), the
    /// target labels, and <c>le</c> when it reads histogram buckets.
    /// </summary>
    public static IReadOnlySet<string> Available(string query, IReadOnlyDictionary<string, IReadOnlySet<string>> documented)
    {
        var available = new HashSet<string>(TargetLabels, StringComparer.Ordinal);
        foreach (var metric in MetricsRead(query))
        {
            if (documented.TryGetValue(metric, out var labels))
            {
                available.UnionWith(labels);
            }
        }

        if (query.Contains("_bucket", StringComparison.Ordinal))
        {
            available.Add("le");
        }

        return available;
    }

    /// <summary>The labels a query uses that none of its series can carry.</summary>
    public static IReadOnlyList<string> Unknown(string query, IReadOnlyDictionary<string, IReadOnlySet<string>> documented, IEnumerable<string>? alsoUsed = null)
    {
        var available = Available(query, documented);
        return Used(query).Concat(alsoUsed ?? []).Where(label => !available.Contains(label)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The labels named in a template's <c>{{ $labels.x }}</c> (alert annotations) or <c>{{x}}</c> (Grafana legends).</summary>
    public static IEnumerable<string> InTemplate(string template) =>
        TemplateLabels().Matches(template).Select(match => match.Groups[1].Value);

    /// <summary>The documented labels of the project's metrics.</summary>
    public static IReadOnlyDictionary<string, IReadOnlySet<string>> Documented() => MetricFamilies.DocumentedLabels("vk_");

    [GeneratedRegex(@"\b(vk_[a-z0-9_]+?)(?:_bucket)?\b")]
    private static partial Regex MetricNames();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")]
    private static partial Regex Groupings();

    [GeneratedRegex(@"\{([^{}]*)\}")]
    private static partial Regex Selectors();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*""")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"\{\{\s*(?:\$labels\.)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")]
    private static partial Regex TemplateLabels();
}
