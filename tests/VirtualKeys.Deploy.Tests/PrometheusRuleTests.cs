using VirtualKeys.Deploy.Tests.Support;
using VirtualKeys.Testing;
using YamlDotNet.RepresentationModel;

namespace VirtualKeys.Deploy.Tests;

/// <summary>
/// The chart's alerts evaluated by Prometheus's own rule engine: <c>promtool test rules</c> feeds them
/// series (Alerts/alerts.test.yaml) and checks each fires when it should, with its labels and summary,
/// and stays quiet while all is well.
/// </summary>
public class PrometheusRuleTests
{
    [Fact]
    public async Task Each_alert_fires_on_its_series_with_its_summary_and_no_alert_fires_while_all_is_well()
    {
        var rendered = await HelmChart.RenderAsync("vko", "--set", "metrics.prometheusRule.enabled=true", "--set", "fullnameOverride=vko", "--set", HelmChart.ExistingKek);
        var spec = (YamlMappingNode)rendered.Single(o => o.Kind() == "PrometheusRule")["spec"];

        // A PrometheusRule's spec is a Prometheus rule file: its groups.
        var rules = new StringWriter();
        new YamlStream(new YamlDocument(spec)).Save(rules, assignAnchors: false);
        var files = new Dictionary<string, string>
        {
            ["rules.yaml"] = rules.ToString(),
            ["alerts.test.yaml"] = await File.ReadAllTextAsync(
                Path.Combine(ToolPaths.RepositoryRoot, "tests", "VirtualKeys.Deploy.Tests", "Alerts", "alerts.test.yaml"), TestContext.Current.CancellationToken),
        };

        var check = await Promtool.RunAsync(files, "check", "rules", "rules.yaml");
        var test = await Promtool.RunAsync(files, "test", "rules", "alerts.test.yaml");

        Assert.True(check.ExitCode == 0, $"promtool check rules:\n{check.Stdout}{check.Stderr}");
        Assert.Contains("SUCCESS: 8 rules found", check.Stdout, StringComparison.Ordinal);
        Assert.True(test.ExitCode == 0, $"promtool test rules:\n{test.Stdout}{test.Stderr}");
        Assert.Contains("SUCCESS", test.Stdout, StringComparison.Ordinal);
    }
}
