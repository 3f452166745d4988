using System.Text;
using k8s;
using k8s.Models;
using VirtualKeys.Deploy.Tests.Support;
using VirtualKeys.LocalCluster;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Processes;
using YamlDotNet.RepresentationModel;

namespace VirtualKeys.Deploy.Tests;

/// <summary>
/// The chart's key-encryption key (KEK) Secret. Argo CD renders charts with helm template, and other
/// GitOps pipelines pipe helm template into kubectl apply: there lookup answers nothing, so a chart
/// that generated the KEK in such a render would write a new one over the registry's on every sync,
/// and no stored provider key could be decrypted after it. Only a Helm that sees the cluster may
/// generate it, once, and every later render must keep what is there.
/// </summary>
public class KekSecretTests
{
    private const string Release = "vko";
    private const string Namespace = "platform";
    private const string KekSecret = "vko-virtual-key-operator-kek";

    [Fact]
    public async Task A_render_without_the_cluster_fails_with_what_to_do_instead_of_generating_a_KEK()
    {
        var template = await HelmAsync(["template", Release, HelmChart.Path, "-n", Namespace]);
        var clientDryRun = await HelmAsync(["install", Release, HelmChart.Path, "-n", Namespace, "--dry-run=client"]);

        Assert.All(new[] { template, clientDryRun }, result =>
        {
            Assert.NotEqual(0, result.ExitCode);
            Assert.DoesNotContain("kind: Secret", result.Stdout, StringComparison.Ordinal);
            Assert.Contains("kek.existingSecret is not set and this render cannot see the cluster", result.Stderr, StringComparison.Ordinal);
            Assert.Contains($"Secret {Namespace}/{KekSecret}", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("Argo CD and other GitOps tools", result.Stderr, StringComparison.Ordinal);
            // A Secret an earlier chart version had Argo CD apply is pruned once the chart stops rendering it.
            Assert.Contains("annotate it argocd.argoproj.io/sync-options=Prune=false,Delete=false", result.Stderr, StringComparison.Ordinal);
        });

        // The section the message sends the reader to is there.
        var readme = await File.ReadAllTextAsync(Path.Combine(ToolPaths.RepositoryRoot, HelmChart.Path, "README.md"), TestContext.Current.CancellationToken);
        Assert.Contains("## Argo CD and other GitOps tools", readme, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_kek_existingSecret_no_Secret_is_rendered_and_the_operator_mounts_the_named_one()
    {
        var objects = await HelmChart.RenderAsync(Release, "-n", Namespace, "--set", "kek.existingSecret=platform-kek");

        Assert.DoesNotContain(objects, o => o.Kind() == "Secret");
        var volumes = (YamlSequenceNode)objects.Single(o => o.Kind() == "Deployment").Path("spec", "template", "spec", "volumes")!;
        var kek = volumes.Children.OfType<YamlMappingNode>().Single(v => v.Scalar("name") == "kek");
        Assert.Equal("platform-kek", ((YamlMappingNode)kek["secret"]).Scalar("secretName"));
    }

    // helm template --dry-run=server looks up and renders exactly as helm install and helm upgrade do.
    // The local API server serves Secrets but not Deployments or RBAC, and a server-side dry run maps
    // every rendered object to a served resource, so the chart rendered here is the KEK template alone
    // (with the helpers and values it uses), copied from the real chart.
    [Fact]
    public async Task Helm_seeing_the_cluster_generates_the_KEK_once_then_keeps_every_key_in_the_Secret()
    {
        var ct = TestContext.Current.CancellationToken;
        var folder = Directory.CreateTempSubdirectory("vk-kek-chart-");
        try
        {
            var chart = CopyKekChart(folder.FullName);
            await using var server = await LocalApiServer.StartAsync(cancellationToken: ct);
            var kubeconfig = Path.Combine(folder.FullName, "kubeconfig");
            server.WriteKubeconfig(kubeconfig);
            using var client = new Kubernetes(server.CreateClientConfiguration());

            // First install. The namespace does not exist yet: helm install --create-namespace renders
            // before it creates it, and the chart must still see a cluster there.
            var generated = Assert.Single(await RenderAgainstAsync(chart, kubeconfig));
            Assert.Equal(KekSecret, generated.Name());
            var annotations = (YamlMappingNode)generated.Path("metadata", "annotations")!;
            Assert.Equal("keep", annotations.Scalar("helm.sh/resource-policy"));
            Assert.Equal("Prune=false,Delete=false", annotations.Scalar("argocd.argoproj.io/sync-options"));
            Assert.Equal("IgnoreExtraneous", annotations.Scalar("argocd.argoproj.io/compare-options"));
            var data = Data(generated);
            Assert.Equal(new[] { "kek" }, data.Keys);
            Assert.Equal(32, Convert.FromBase64String(Encoding.ASCII.GetString(data["kek"])).Length); // the file holds 32 random bytes, base64

            // Helm creates it as rendered; a KEK replacement then adds a second key beside it.
            await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Namespace } }, cancellationToken: ct);
            var replacement = Convert.ToBase64String(new byte[32]);
            await client.CoreV1.CreateNamespacedSecretAsync(
                new V1Secret
                {
                    Metadata = new V1ObjectMeta
                    {
                        Name = KekSecret,
                        Labels = new Dictionary<string, string> { ["app.kubernetes.io/managed-by"] = "Helm" },
                        Annotations = new Dictionary<string, string>
                        {
                            ["meta.helm.sh/release-name"] = Release,
                            ["meta.helm.sh/release-namespace"] = Namespace,
                        },
                    },
                    Data = new Dictionary<string, byte[]> { ["kek"] = data["kek"], ["kek-new"] = Encoding.ASCII.GetBytes(replacement) },
                },
                Namespace,
                cancellationToken: ct);

            // Every upgrade renders what is there, whichever key is current; a current key that is
            // missing is the only thing ever added.
            var upgraded = Data(Assert.Single(await RenderAgainstAsync(chart, kubeconfig)));
            var switched = Data(Assert.Single(await RenderAgainstAsync(chart, kubeconfig, "--set", "kek.key=kek-new", "--set", "kek.previousKeys={kek}")));
            var added = Data(Assert.Single(await RenderAgainstAsync(chart, kubeconfig, "--set", "kek.key=kek-2027")));

            Assert.Equal(new[] { "kek", "kek-new" }, upgraded.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(data["kek"], upgraded["kek"]);
            Assert.Equal(replacement, Encoding.ASCII.GetString(upgraded["kek-new"]));
            Assert.Equal(upgraded, switched);
            Assert.Equal(new[] { "kek", "kek-2027", "kek-new" }, added.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(upgraded["kek"], added["kek"]);
            Assert.Equal(upgraded["kek-new"], added["kek-new"]);
            Assert.Equal(32, Convert.FromBase64String(Encoding.ASCII.GetString(added["kek-2027"])).Length);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static Task<ToolResult> HelmAsync(IEnumerable<string> arguments) =>
        ToolProcess.RunAsync(ToolPaths.Helm, arguments, timeout: DeployTools.Timeout, workingDirectory: ToolPaths.RepositoryRoot);

    private static async Task<IReadOnlyList<YamlMappingNode>> RenderAgainstAsync(string chart, string kubeconfig, params string[] arguments)
    {
        var result = await HelmAsync(["template", Release, chart, "-n", Namespace, "--kubeconfig", kubeconfig, "--dry-run=server", .. arguments]);
        Assert.True(result.ExitCode == 0, $"helm template --dry-run=server exited {result.ExitCode}:\n{result.Stderr}\n{result.Stdout}");
        return Manifests.Parse(result.Stdout);
    }

    /// <summary>The chart's KEK template, its helpers and values, as a chart of their own in <paramref name="folder"/>.</summary>
    private static string CopyKekChart(string folder)
    {
        var source = Path.Combine(ToolPaths.RepositoryRoot, HelmChart.Path);
        var chart = Path.Combine(folder, "chart");
        Directory.CreateDirectory(Path.Combine(chart, "templates"));
        foreach (var file in new[] { "Chart.yaml", "values.yaml", "templates/_helpers.tpl", "templates/kek-secret.yaml" })
        {
            File.Copy(Path.Combine(source, file), Path.Combine(chart, file));
        }

        return chart;
    }

    /// <summary>A Secret's data, decoded: what a pod that mounts it reads.</summary>
    private static Dictionary<string, byte[]> Data(YamlMappingNode secret) =>
        ((YamlMappingNode)secret["data"]).Children.ToDictionary(
            entry => ((YamlScalarNode)entry.Key).Value!,
            entry => Convert.FromBase64String(((YamlScalarNode)entry.Value).Value!));
}
