using VirtualKeys.Testing;
using VirtualKeys.Testing.Processes;

namespace VirtualKeys.LocalCluster.Tests.Kubectl;

/// <summary>Runs the real kubectl (v1.35 from .tools/bin) against a kubeconfig, with its own discovery cache and a hard timeout.</summary>
public sealed class KubectlRunner
{
    private readonly string _kubeconfig;
    private readonly string _cacheDir;

    public KubectlRunner(string kubeconfig, string cacheDir)
    {
        _kubeconfig = kubeconfig;
        _cacheDir = cacheDir;
    }

    public async Task<(int ExitCode, string Output, string Error)> RunAsync(string[] arguments, string? stdin = null, int timeoutSeconds = 60)
    {
        var result = await ToolProcess.RunAsync(
            ToolPaths.Kubectl,
            ["--kubeconfig", _kubeconfig, "--cache-dir", _cacheDir, .. arguments],
            stdin,
            TimeSpan.FromSeconds(timeoutSeconds));
        return (result.ExitCode, result.Stdout, result.Stderr);
    }

    public async Task<string> SucceedAsync(params string[] arguments)
    {
        var (code, output, error) = await RunAsync(arguments);
        Assert.True(code == 0, $"kubectl {string.Join(' ', arguments)} exited {code}: {error}{output}");
        return output;
    }
}
