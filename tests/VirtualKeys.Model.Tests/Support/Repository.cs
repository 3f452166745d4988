using VirtualKeys.Testing;

namespace VirtualKeys.Model.Tests.Support;

internal static class Repository
{
    public const string CrdPath = "config/crd/bases/aigateway.dev_virtualkeys.yaml";

    public static string PathOf(string relativePath) => Path.Combine(ToolPaths.RepositoryRoot, relativePath);
}
