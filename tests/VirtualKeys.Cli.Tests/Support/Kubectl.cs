using System.Diagnostics;
using VirtualKeys.Testing;

namespace VirtualKeys.Cli.Tests.Support;

/// <summary>The real kubectl (v1.35 from .tools/bin) against one kubeconfig, with its own discovery cache and a hard timeout.</summary>
internal sealed class Kubectl(string kubeconfig, string cacheDirectory)
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public async Task<Result> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(ToolPaths.Kubectl)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["--kubeconfig", kubeconfig, "--cache-dir", cacheDirectory, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(1));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', arguments)} did not finish within a minute");
        }

        return new Result(process.ExitCode, await stdout, await stderr);
    }

    public async Task<string> SucceedAsync(params string[] arguments)
    {
        var result = await RunAsync(arguments);
        Assert.True(result.ExitCode == 0, $"kubectl {string.Join(' ', arguments)} exited {result.ExitCode}: {result.Stderr}{result.Stdout}");
        return result.Stdout;
    }
}
