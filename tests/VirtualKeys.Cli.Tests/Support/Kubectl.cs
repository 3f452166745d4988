using VirtualKeys.Testing;
using VirtualKeys.Testing.Processes;

namespace VirtualKeys.Cli.Tests.Support;

/// <summary>The real kubectl (v1.35 from .tools/bin) against one kubeconfig, with its own discovery cache and a hard timeout.</summary>
internal sealed class Kubectl(string kubeconfig, string cacheDirectory)
{
    public Task<ToolResult> RunAsync(params string[] arguments) =>
        ToolProcess.RunAsync(ToolPaths.Kubectl, ["--kubeconfig", kubeconfig, "--cache-dir", cacheDirectory, .. arguments]);

    public async Task<string> SucceedAsync(params string[] arguments)
    {
        var result = await RunAsync(arguments);
        Assert.True(result.ExitCode == 0, $"kubectl {string.Join(' ', arguments)} exited {result.ExitCode}: {result.Stderr}{result.Stdout}");
        return result.Stdout;
    }
}
