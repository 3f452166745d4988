using VirtualKeys.Deploy.Tests.Support;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Processes;
using YamlDotNet.RepresentationModel;

namespace VirtualKeys.Deploy.Tests;

/// <summary>
/// The chart's alerts evaluated by Prometheus's own rule engine: <c>promtool test rules</c> feeds them
/// series (Alerts/alerts.test.yaml) and checks each fires when it should, with its labels and summary,
/// and stays quiet while all is well.
/// </summary>
public class PrometheusRuleTests
{
    private const string Chart = "charts/virtual-key-operator";

    [Fact]
    public async Task Each_alert_fires_on_its_series_with_its_summary_and_no_alert_fires_while_all_is_well()
    {
        var promtool = DeployTools.Promtool();
        var rendered = Manifests.Parse(await ToolProcess.SucceedAsync(
            ToolPaths.Helm,
            ["template", "vko", Chart, "--set", "metrics.prometheusRule.enabled=true", "--set", "fullnameOverride=vko"],
            DeployTools.Timeout,
            ToolPaths.RepositoryRoot));
        var spec = (YamlMappingNode)rendered.Single(o => o.Kind() == "PrometheusRule")["spec"];

        var directory = Directory.CreateTempSubdirectory("vk-alerts-");
        try
        {
            // A PrometheusRule's spec is a Prometheus rule file: its groups.
            await using (var rules = File.CreateText(Path.Combine(directory.FullName, "rules.yaml")))
            {
                new YamlStream(new YamlDocument(spec)).Save(rules, assignAnchors: false);
            }

            File.Copy(Path.Combine(ToolPaths.RepositoryRoot, "tests", "VirtualKeys.Deploy.Tests", "Alerts", "alerts.test.yaml"), Path.Combine(directory.FullName, "alerts.test.yaml"));

            var check = await ToolProcess.RunAsync(promtool, ["check", "rules", "rules.yaml"], timeout: DeployTools.Timeout, workingDirectory: directory.FullName);
            var test = await ToolProcess.RunAsync(promtool, ["test", "rules", "alerts.test.yaml"], timeout: DeployTools.Timeout, workingDirectory: directory.FullName);

            Assert.True(check.ExitCode == 0, $"promtool check rules:\n{check.Stdout}{check.Stderr}");
            Assert.Contains("SUCCESS: 8 rules found", check.Stdout, StringComparison.Ordinal);
            Assert.True(test.ExitCode == 0, $"promtool test rules:\n{test.Stdout}{test.Stderr}");
            Assert.Contains("SUCCESS", test.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
