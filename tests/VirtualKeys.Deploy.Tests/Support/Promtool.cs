using VirtualKeys.Testing.Processes;

namespace VirtualKeys.Deploy.Tests.Support;

/// <summary>Prometheus's promtool, run on files written for it into a folder of their own.</summary>
internal static class Promtool
{
    /// <summary>Writes <paramref name="files"/> (name to content) into a temporary folder and runs promtool there with <paramref name="arguments"/>.</summary>
    public static async Task<ToolResult> RunAsync(IReadOnlyDictionary<string, string> files, params string[] arguments)
    {
        var directory = Directory.CreateTempSubdirectory("vk-promtool-");
        try
        {
            foreach (var (name, content) in files)
            {
                await File.WriteAllTextAsync(Path.Combine(directory.FullName, name), content, TestContext.Current.CancellationToken);
            }

            return await ToolProcess.RunAsync(Find(), arguments, timeout: DeployTools.Timeout, workingDirectory: directory.FullName);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>promtool from VK_PROMTOOL or the PATH (Debian's prometheus package; .ci/run installs it).</summary>
    private static string Find()
    {
        var configured = Environment.GetEnvironmentVariable("VK_PROMTOOL");
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        var found = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => System.IO.Path.Combine(folder, "promtool"))
            .FirstOrDefault(File.Exists);
        return found ?? throw new InvalidOperationException("promtool is not on the PATH: install it (apt-get install prometheus) or set VK_PROMTOOL.");
    }
}
