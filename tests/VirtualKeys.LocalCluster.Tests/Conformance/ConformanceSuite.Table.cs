using k8s;
using k8s.Models;

namespace VirtualKeys.LocalCluster.Tests.Conformance;

public abstract partial class ConformanceSuite<TBackend>
{
    private const string TableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

    [Fact]
    public async Task Table_of_custom_resources_uses_the_CRD_printer_columns()
    {
        await using var s = await SessionAsync();
        await s.CreateWidgetAsync("printed", "green", 4);
        await s.PatchAsync($"{s.WidgetsPath}/printed/status", """{"status":{"conditions":[{"type":"Other","status":"False"},{"type":"Ready","status":"True"}]}}""");
        var table = (await s.GetAsync(s.WidgetsPath + "?limit=500", TableAccept)).Json!;
        Assert.Equal("Table", (string?)table["kind"]);
        Assert.Equal(["Name", "Color", "Replicas", "Ready", "Age"], table["columnDefinitions"]!.AsArray().Select(c => (string?)c!["name"]));
        var cells = table["rows"]![0]!["cells"]!.AsArray();
        Assert.Equal("printed", (string?)cells[0]);
        Assert.Equal("green", (string?)cells[1]);
        Assert.Equal(4, (int)cells[2]!);
        Assert.Equal("True", (string?)cells[3]);
        Assert.Equal("PartialObjectMetadata", (string?)table["rows"]![0]!["object"]!["kind"]);
    }

    [Fact]
    public async Task Table_of_a_built_in_kind_has_name_and_age_columns()
    {
        await using var s = await SessionAsync();
        await s.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "tabled" } }, s.Namespace, cancellationToken: Token);
        var table = (await s.GetAsync($"{s.SecretsPath}/tabled", TableAccept)).Json!;
        var columns = table["columnDefinitions"]!.AsArray().Select(c => (string?)c!["name"]).ToList();
        Assert.Equal("Name", columns[0]);
        Assert.Contains("Age", columns);
        Assert.Equal("tabled", (string?)table["rows"]![0]!["cells"]![0]);
    }
}
