namespace VirtualKeys.Testing;

/// <summary>
/// Locates the repository and the real kubectl/helm that <c>scripts/install-tools</c>
/// puts into <c>.tools/bin</c>. Tests never fall back to whatever kubectl is on PATH:
/// the version matters (v1.35).
/// </summary>
public static class ToolPaths
{
    private static readonly Lazy<string> Root = new(FindRepositoryRoot);

    public static string RepositoryRoot => Root.Value;

    public static string Kubectl => Tool("kubectl", "VK_KUBECTL");

    public static string Helm => Tool("helm", "VK_HELM");

    private static string Tool(string name, string overrideVariable)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(overrideVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        var path = Path.Combine(RepositoryRoot, ".tools", "bin", name);
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"{name} not found at {path}: run scripts/install-tools first.");
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Operator.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Operator.sln not found above " + AppContext.BaseDirectory);
    }
}
