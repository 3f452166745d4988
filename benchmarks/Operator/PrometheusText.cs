using System.Globalization;

namespace VirtualKeys.Operator.Benchmarks;

/// <summary>One scrape of the operator's <c>/metrics</c>, summed per metric name over the samples whose labels match.</summary>
internal sealed class PrometheusText(string text)
{
    /// <summary>The sum of <paramref name="metric"/>'s samples that carry every label text in <paramref name="labels"/> (e.g. <c>controller="virtualkey"</c>).</summary>
    public double Sum(string metric, params string[] labels)
    {
        var total = 0.0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(metric, StringComparison.Ordinal))
            {
                continue;
            }

            var rest = line.AsSpan(metric.Length);
            if (rest.Length == 0 || (rest[0] != '{' && rest[0] != ' '))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            var head = line[..space];
            if (labels.All(l => head.Contains(l, StringComparison.Ordinal))
                && double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                total += value;
            }
        }

        return total;
    }
}
