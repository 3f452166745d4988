using VirtualKeys.Deploy.Tests.Support;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Processes;

namespace VirtualKeys.Deploy.Tests;

public class KustomizeTests
{
    [Fact]
    public async Task Default_base_renders_the_same_objects_as_the_chart_defaults()
    {
        var kustomized = Manifests.Parse(await ToolProcess.SucceedAsync(ToolPaths.Kubectl, ["kustomize", "config/default"], DeployTools.Timeout, ToolPaths.RepositoryRoot));
        var helm = await HelmChart.RenderAsync("virtual-key-operator", "-n", "virtual-key-operator-system", "--include-crds");

        // Kustomize cannot generate a random key-encryption key once and keep it; the user
        // creates that Secret (config/manager/kustomization.yaml says how). The namespace is
        // kustomize's to create; helm installs into one.
        var fromKustomize = kustomized.Where(o => o.Kind() != "Namespace").Select(o => $"{o.Kind()}/{o.Name()}").Order().ToArray();
        var fromHelm = helm.Where(o => o.Kind() != "Secret").Select(o => $"{o.Kind()}/{o.Name()}").Order().ToArray();

        Assert.Equal(fromHelm, fromKustomize);
    }
}
