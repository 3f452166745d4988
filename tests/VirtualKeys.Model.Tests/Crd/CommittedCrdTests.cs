using VirtualKeys.Model.Crd;
using VirtualKeys.Model.Tests.Support;

namespace VirtualKeys.Model.Tests.Crd;

public class CommittedCrdTests
{
    [Fact]
    public void The_committed_CRD_is_what_the_model_generates_now()
    {
        var generated = CrdGenerator.ToYaml(CrdGenerator.Generate(typeof(VirtualKey)));
        var committed = File.ReadAllText(Repository.PathOf(Repository.CrdPath));

        Assert.True(
            committed == generated,
            $"{Repository.CrdPath} differs from what src/VirtualKeys.Model generates. " +
            "Run `dotnet run --project src/VirtualKeys.Cli -- crd --output config` and commit the result.");
    }

    [Fact]
    public void The_CRD_kustomization_lists_the_committed_CRD()
    {
        var kustomization = YamlToJson.Parse(File.ReadAllText(Repository.PathOf("config/crd/kustomization.yaml")))!;

        Assert.Equal("Kustomization", (string?)kustomization["kind"]);
        Assert.Contains("bases/aigateway.dev_virtualkeys.yaml", kustomization["resources"]!.AsArray().Select(item => (string?)item));
    }
}
