using System.Text;
using System.Text.Json;
using VirtualKeys.Deploy.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace VirtualKeys.Deploy.Tests;

/// <summary>The chart's Grafana dashboard: shipped when asked for, and every query one Prometheus accepts over series the project serves.</summary>
public class GrafanaDashboardTests
{
    [Fact]
    public async Task The_dashboard_ships_only_when_enabled_in_a_ConfigMap_the_Grafana_sidecar_loads()
    {
        var defaults = await HelmChart.RenderAsync("vko", "--set", HelmChart.ExistingKek);
        var configMap = await RenderDashboardConfigMapAsync();

        Assert.DoesNotContain(defaults, o => o.Kind() == "ConfigMap");
        Assert.Equal("monitoring", ((YamlMappingNode)configMap["metadata"]).Scalar("namespace"));
        Assert.Equal("1", ((YamlScalarNode)configMap.Path("metadata", "labels", "grafana_dashboard")!).Value);
        Assert.Equal("LLM", ((YamlScalarNode)configMap.Path("metadata", "annotations", "grafana_folder")!).Value);
        using var dashboard = JsonDocument.Parse(((YamlScalarNode)configMap.Path("data", "virtual-key-operator.json")!).Value!);
        Assert.Equal("virtual-key-operator", dashboard.RootElement.GetProperty("uid").GetString());
    }

    [Fact]
    public async Task Every_query_parses_reads_documented_metrics_and_labels_and_uses_the_chosen_data_source()
    {
        var configMap = await RenderDashboardConfigMapAsync();
        using var dashboard = JsonDocument.Parse(((YamlScalarNode)configMap.Path("data", "virtual-key-operator.json")!).Value!);
        var targets = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .Where(panel => panel.TryGetProperty("targets", out _))
            .SelectMany(panel => panel.GetProperty("targets").EnumerateArray().Select(target => (Panel: panel.GetProperty("title").GetString()!, Target: target)))
            .ToList();
        var documented = QueryLabels.Documented();

        Assert.True(targets.Count >= 15, $"only {targets.Count} queries");
        foreach (var (panel, target) in targets)
        {
            Assert.Equal("${datasource}", target.GetProperty("datasource").GetProperty("uid").GetString());
            var expr = target.GetProperty("expr").GetString()!;
            var read = QueryLabels.MetricsRead(expr);
            Assert.True(read.Count > 0, $"{panel}: reads no vk_ metric");
            Assert.All(read, name => Assert.True(documented.ContainsKey(name), $"{panel}: {name} is not a metric the operator or sidecar serves (docs/operations.md)"));
            var legend = target.TryGetProperty("legendFormat", out var format) ? format.GetString() ?? "" : "";
            var unknown = QueryLabels.Unknown(expr, documented, QueryLabels.InTemplate(legend));
            Assert.True(unknown.Count == 0, $"{panel}: no series it reads has the label(s) {string.Join(", ", unknown)}");
        }

        // The namespace variable lists the values of a label its metric has.
        var variable = dashboard.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray()
            .Single(v => v.GetProperty("name").GetString() == "namespace").GetProperty("definition").GetString()!;
        var (metric, label) = (variable.Split('(', ',')[1].Trim(), variable.Split(',', ')')[1].Trim());
        Assert.Contains(label, QueryLabels.Available(metric, documented));

        // Grafana's own variables replaced by what they stand for, every query becomes a recording
        // rule that promtool checks as Prometheus would parse it.
        var rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        for (var i = 0; i < targets.Count; i++)
        {
            var expr = targets[i].Target.GetProperty("expr").GetString()!
                .Replace("$__rate_interval", "5m", StringComparison.Ordinal)
                .Replace("$namespace", ".*", StringComparison.Ordinal);
            rules.Append($"      - record: dashboard:query{i}\n        expr: {JsonSerializer.Serialize(expr)}\n");
        }

        var check = await Promtool.RunAsync(new Dictionary<string, string> { ["queries.yaml"] = rules.ToString() }, "check", "rules", "queries.yaml");

        Assert.True(check.ExitCode == 0, $"promtool check rules on the dashboard's queries:\n{check.Stdout}{check.Stderr}");
    }

    private static async Task<YamlMappingNode> RenderDashboardConfigMapAsync()
    {
        var objects = await HelmChart.RenderAsync("vko", "-n", "platform", "-f", HelmChart.AllOptions);
        return Assert.Single(objects, o => o.Kind() == "ConfigMap");
    }
}
