using k8s;
using k8s.Models;
using VirtualKeys.Testing;

namespace VirtualKeys.Model.Tests.Support;

internal static class Repository
{
    public const string CrdPath = "config/crd/bases/aigateway.dev_virtualkeys.yaml";

    public static string PathOf(string relativePath) => Path.Combine(ToolPaths.RepositoryRoot, relativePath);

    /// <summary>The CRD as committed, which is what users apply.</summary>
    public static V1CustomResourceDefinition CommittedCrd() =>
        KubernetesYaml.Deserialize<V1CustomResourceDefinition>(File.ReadAllText(PathOf(CrdPath)), strict: true);
}
