using VirtualKeys.Operator.Rbac;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Processes;
using YamlDotNet.RepresentationModel;

namespace VirtualKeys.Operator.Tests.Rbac;

/// <summary>The chart grants exactly what <see cref="OperatorPermissions"/> lists: nothing missing, nothing extra.</summary>
public sealed class ChartRbacTests
{
    [Fact]
    public async Task ClusterRole_GrantsExactlyTheWatchedPermissions()
    {
        var documents = await RenderChartAsync();
        var clusterRole = Assert.Single(documents, d => Scalar(d, "kind") == "ClusterRole");

        AssertSame(OperatorPermissions.Watched, Rules(clusterRole), "ClusterRole");
    }

    [Fact]
    public async Task LeaderElectionRole_GrantsExactlyTheLeasePermissions()
    {
        var documents = await RenderChartAsync();
        var role = Assert.Single(documents, d => Scalar(d, "kind") == "Role" && Name(d).EndsWith("-leader-election", StringComparison.Ordinal));

        AssertSame(OperatorPermissions.LeaderElection, Rules(role), "leader-election Role");
    }

    private static void AssertSame(IReadOnlyList<PermissionRule> expected, HashSet<string> granted, string what)
    {
        var needed = expected.Select(r => $"{r.ApiGroup}|{r.Resource}|{r.Verb}").ToHashSet(StringComparer.Ordinal);
        var missing = needed.Except(granted).Order(StringComparer.Ordinal).ToList();
        var extra = granted.Except(needed).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"The chart's {what} lacks (group|resource|verb): {string.Join(", ", missing)}");
        Assert.True(extra.Count == 0, $"The chart's {what} grants what the code never uses (group|resource|verb): {string.Join(", ", extra)}");
    }

    private static HashSet<string> Rules(YamlMappingNode role)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rule in ((YamlSequenceNode)role[new YamlScalarNode("rules")]).Children.OfType<YamlMappingNode>())
        {
            foreach (var group in Strings(rule, "apiGroups"))
            {
                foreach (var resource in Strings(rule, "resources"))
                {
                    foreach (var verb in Strings(rule, "verbs"))
                    {
                        result.Add($"{group}|{resource}|{verb}");
                    }
                }
            }
        }

        return result;
    }

    private static IEnumerable<string> Strings(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlSequenceNode sequence
            ? sequence.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? string.Empty)
            : [];

    private static string Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode scalar ? scalar.Value ?? string.Empty : string.Empty;

    private static string Name(YamlMappingNode node) =>
        node.Children.TryGetValue(new YamlScalarNode("metadata"), out var metadata) && metadata is YamlMappingNode map ? Scalar(map, "name") : string.Empty;

    private static async Task<List<YamlMappingNode>> RenderChartAsync()
    {
        // No helm fails the test (ToolPaths says where it looked and to run scripts/install-tools):
        // scripts/test installs it, and a skip here would pass a chart nobody checked.
        // Without the cluster the chart cannot generate its KEK Secret and must be given one.
        var output = await ToolProcess.SucceedAsync(
            ToolPaths.Helm,
            ["template", "x", "charts/virtual-key-operator", "--set", "kek.existingSecret=x-kek"],
            workingDirectory: ToolPaths.RepositoryRoot);

        var stream = new YamlStream();
        stream.Load(new StringReader(output));
        return [.. stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().Where(n => n.Children.Count > 0)];
    }
}
