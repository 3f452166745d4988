using VirtualKeys.Deploy.Tests.Support;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Processes;
using YamlDotNet.RepresentationModel;

namespace VirtualKeys.Deploy.Tests;

public class HelmChartTests
{
    private const string Chart = HelmChart.Path;
    private const string AllOptions = HelmChart.AllOptions;

    [Fact]
    public async Task Lint_passes_for_default_values_and_for_every_option()
    {
        var defaults = await ToolProcess.SucceedAsync(ToolPaths.Helm, ["lint", Chart], DeployTools.Timeout, ToolPaths.RepositoryRoot);
        var full = await ToolProcess.SucceedAsync(ToolPaths.Helm, ["lint", Chart, "-f", AllOptions], DeployTools.Timeout, ToolPaths.RepositoryRoot);

        Assert.Contains("0 chart(s) failed", defaults);
        Assert.Contains("0 chart(s) failed", full);
    }

    [Fact]
    public async Task Default_values_render_a_leader_elected_operator_with_cluster_wide_rbac()
    {
        // Defaults but for the KEK Secret, which helm template cannot generate (KekSecretTests).
        var objects = await HelmChart.RenderAsync("virtual-key-operator", "-n", "vk-system", "--set", HelmChart.ExistingKek);
        var kinds = objects.Select(o => o.Kind()).ToHashSet();

        Assert.Superset(new HashSet<string> { "Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "PodDisruptionBudget" }, kinds);
        Assert.DoesNotContain("ServiceMonitor", kinds);
        Assert.DoesNotContain("PrometheusRule", kinds);
        Assert.DoesNotContain("NetworkPolicy", kinds);
        Assert.DoesNotContain("Secret", kinds);

        var deployment = objects.Single(o => o.Kind() == "Deployment");
        Assert.Equal("2", ((YamlScalarNode)deployment.Path("spec", "replicas")!).Value);
        var container = (YamlMappingNode)((YamlSequenceNode)deployment.Path("spec", "template", "spec", "containers")!).Children[0];
        var env = ((YamlSequenceNode)container["env"]).Children.OfType<YamlMappingNode>().ToDictionary(e => e.Scalar("name"));
        Assert.Equal("true", env["LeaderElection__Enabled"].Scalar("value"));
        Assert.False(env.ContainsKey("Registry__PreviousKekFiles"), "no earlier KEK unless kek.previousKeys lists one");
        Assert.Equal("virtual-key-registry", ((YamlMappingNode)env["Registry__ConnectionString"].Path("valueFrom", "secretKeyRef")!).Scalar("name"));
        Assert.Equal("true", ((YamlScalarNode)container.Path("securityContext", "readOnlyRootFilesystem")!).Value);
        Assert.NotNull(container.Path("livenessProbe"));
        Assert.NotNull(container.Path("readinessProbe"));
        Assert.Equal("/var/run/secrets/virtual-keys/kek/kek", env["Registry__KekFile"].Scalar("value"));
    }

    [Fact]
    public async Task Every_option_renders_namespaced_roles_and_monitoring()
    {
        var objects = await HelmChart.RenderAsync("vko", "-n", "platform", "-f", AllOptions);
        var kinds = objects.GroupBy(o => o.Kind()).ToDictionary(g => g.Key, g => g.Count());

        Assert.False(kinds.ContainsKey("ClusterRole"), "watching a list of namespaces must not grant cluster-wide access");
        Assert.Equal(3, kinds["Role"]); // team-a, team-b, and the leader-election Role
        Assert.Equal(1, kinds["ServiceMonitor"]);
        Assert.Equal(1, kinds["PrometheusRule"]);
        Assert.Equal(1, kinds["NetworkPolicy"]);
        Assert.False(kinds.ContainsKey("Secret"), "an existing KEK Secret is used, none is generated");

        var container = (YamlMappingNode)((YamlSequenceNode)objects.Single(o => o.Kind() == "Deployment").Path("spec", "template", "spec", "containers")!).Children[0];
        var env = ((YamlSequenceNode)container["env"]).Children.OfType<YamlMappingNode>().ToDictionary(e => e.Scalar("name"));
        Assert.Equal("/var/run/secrets/virtual-keys/kek/kek.b64", env["Registry__KekFile"].Scalar("value"));
        Assert.Equal(
            "/var/run/secrets/virtual-keys/kek/kek-2025.b64,/var/run/secrets/virtual-keys/kek/kek-2024.b64",
            env["Registry__PreviousKekFiles"].Scalar("value"));

        var roleNamespaces = objects.Where(o => o.Kind() == "Role" && !o.Name().EndsWith("leader-election", StringComparison.Ordinal))
            .Select(o => ((YamlMappingNode)o["metadata"]).Scalar("namespace"))
            .Order()
            .ToArray();
        Assert.Equal(["team-a", "team-b"], roleNamespaces);

        var rule = objects.Single(o => o.Kind() == "PrometheusRule");
        var alerts = ((YamlSequenceNode)((YamlMappingNode)((YamlSequenceNode)rule.Path("spec", "groups")!).Children[0])["rules"])
            .Children.OfType<YamlMappingNode>().Select(r => r.Scalar("alert")).ToArray();
        Assert.Equal(
            [
                "VirtualKeyBudgetThreshold", "VirtualKeyBudgetExhausted", "VirtualKeyOperatorDown", "VirtualKeySidecarDegraded",
                "VirtualKeySidecarUsageBacklog", "VirtualKeyUsageRecordsRefused", "VirtualKeyUnpricedModel", "VirtualKeyReconcileErrors",
            ],
            alerts);
    }

    // An alert on a series nobody serves never fires: every metric the rules read is one the operator or
    // the sidecar serves, as docs/operations.md lists them (the operator's and sidecar's tests hold that
    // list to their scrapes), and every label they group by, match on or print is one those series have.
    [Fact]
    public async Task Every_metric_and_label_the_alerts_use_is_a_documented_one()
    {
        var objects = await HelmChart.RenderAsync("vko", "-n", "platform", "-f", AllOptions);
        var rule = objects.Single(o => o.Kind() == "PrometheusRule");
        var alerts = ((YamlSequenceNode)((YamlMappingNode)((YamlSequenceNode)rule.Path("spec", "groups")!).Children[0])["rules"])
            .Children.OfType<YamlMappingNode>().ToArray();
        var documented = QueryLabels.Documented();
        var read = alerts.SelectMany(a => QueryLabels.MetricsRead(a.Scalar("expr"))).ToHashSet();

        Assert.NotEmpty(read);
        Assert.Subset(documented.Keys.ToHashSet(), read);
        Assert.All(alerts, alert =>
        {
            var unknown = QueryLabels.Unknown(alert.Scalar("expr"), documented, QueryLabels.InTemplate(((YamlMappingNode)alert["annotations"]).Scalar("summary")));
            Assert.True(unknown.Count == 0, $"{alert.Scalar("alert")}: no series it reads has the label(s) {string.Join(", ", unknown)}");
        });
    }

    [Fact]
    public void Chart_crd_is_the_generated_crd()
    {
        var root = ToolPaths.RepositoryRoot;
        var chartCrd = File.ReadAllText(Path.Combine(root, Chart, "crds", "virtualkeys.yaml"));
        var generated = File.ReadAllText(Path.Combine(root, "config", "crd", "bases", "aigateway.dev_virtualkeys.yaml"));

        Assert.True(generated == chartCrd, "charts/virtual-key-operator/crds/virtualkeys.yaml differs from config/crd: copy config/crd/bases/aigateway.dev_virtualkeys.yaml over it");
    }
}
