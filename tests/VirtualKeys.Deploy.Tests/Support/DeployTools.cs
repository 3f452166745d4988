namespace VirtualKeys.Deploy.Tests.Support;

internal static class DeployTools
{
    /// <summary>helm template and kubectl kustomize render offline; two minutes only guards against a hang.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>promtool from VK_PROMTOOL or the PATH (Debian's prometheus package; .ci/run installs it).</summary>
    public static string Promtool()
    {
        var configured = Environment.GetEnvironmentVariable("VK_PROMTOOL");
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        var found = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, "promtool"))
            .FirstOrDefault(File.Exists);
        return found ?? throw new InvalidOperationException("promtool is not on the PATH: install it (apt-get install prometheus) or set VK_PROMTOOL.");
    }
}
