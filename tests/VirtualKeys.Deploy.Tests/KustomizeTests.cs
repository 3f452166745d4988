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
        // Kustomize cannot generate a random key-encryption key once and keep it, and neither can
        // helm template: in both the user creates that Secret (config/manager/kustomization.yaml
        // says how) and the chart is told its name. The namespace is kustomize's to create; helm
        // installs into one.
        var helm = await HelmChart.RenderAsync("virtual-key-operator", "-n", "virtual-key-operator-system", "--include-crds", "--set", HelmChart.ExistingKek);

        var fromKustomize = kustomized.Where(o => o.Kind() != "Namespace").Select(o => $"{o.Kind()}/{o.Name()}").Order().ToArray();
        var fromHelm = helm.Select(o => $"{o.Kind()}/{o.Name()}").Order().ToArray();

        Assert.Equal(fromHelm, fromKustomize);
    }
}
