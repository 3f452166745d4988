using VirtualKeys.Testing;
using VirtualKeys.Testing.Processes;
using YamlDotNet.RepresentationModel;

namespace VirtualKeys.Deploy.Tests.Support;

/// <summary>The chart as the tests render it with the real helm.</summary>
internal static class HelmChart
{
    public const string Path = "charts/virtual-key-operator";

    /// <summary>Values that exercise every option of the chart.</summary>
    public const string AllOptions = "charts/virtual-key-operator/ci/all-options-values.yaml";

    /// <summary>
    /// <c>--set</c> argument naming an existing KEK Secret: without the cluster, as helm template renders,
    /// the chart cannot tell whether its KEK Secret exists and refuses to render until it is given one
    /// (<see cref="KekSecretTests"/>). The name is the one the chart generates, which config/default uses too.
    /// </summary>
    public const string ExistingKek = "kek.existingSecret=virtual-key-operator-kek";

    /// <summary><c>helm template <paramref name="release"/> charts/virtual-key-operator</c> with <paramref name="arguments"/>, parsed.</summary>
    public static async Task<IReadOnlyList<YamlMappingNode>> RenderAsync(string release, params string[] arguments) =>
        Manifests.Parse(await ToolProcess.SucceedAsync(ToolPaths.Helm, ["template", release, Path, .. arguments], DeployTools.Timeout, ToolPaths.RepositoryRoot));
}
