using System.Diagnostics;
using VirtualKeys.Testing;

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
        var start = new ProcessStartInfo(ToolPaths.Kubectl)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--kubeconfig");
        start.ArgumentList.Add(_kubeconfig);
        start.ArgumentList.Add("--cache-dir");
        start.ArgumentList.Add(_cacheDir);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("kubectl did not start");
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', arguments)} did not finish within {timeoutSeconds}s");
        }

        return (process.ExitCode, await output, await error);
    }

    public async Task<string> SucceedAsync(params string[] arguments)
    {
        var (code, output, error) = await RunAsync(arguments);
        Assert.True(code == 0, $"kubectl {string.Join(' ', arguments)} exited {code}: {error}{output}");
        return output;
    }
}
