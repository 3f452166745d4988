using System.CommandLine;
using System.Diagnostics;

namespace VirtualKeys.Cli.Tests.Support;

/// <summary>Runs <c>vk</c>: as a separate process, as a user would, or in-process through a command object.</summary>
internal static class Vk
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs the built vk.dll (copied next to the tests) with <paramref name="workingDirectory"/> as its current directory.</summary>
    public static async Task<Result> RunProcessAsync(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vk.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
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
            throw;
        }

        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Invokes <paramref name="command"/> under a bare root command, capturing its output.</summary>
    public static async Task<Result> InvokeAsync(Command command, params string[] args)
    {
        var root = new RootCommand { command };
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exitCode = await root.Parse([command.Name, .. args]).InvokeAsync(
            new InvocationConfiguration { Output = stdout, Error = stderr },
            TestContext.Current.CancellationToken);
        return new Result(exitCode, stdout.ToString(), stderr.ToString());
    }
}
