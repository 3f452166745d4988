using System.Diagnostics;

namespace VirtualKeys.Deploy.Tests.Support;

/// <summary>Runs helm or kubectl and returns what it printed; a non-zero exit fails the test with stderr.</summary>
public static class ProcessRunner
{
    public static async Task<string> RunAsync(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = VirtualKeys.Testing.ToolPaths.RepositoryRoot,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        var output = await stdout;
        var errors = await stderr;
        Assert.True(process.ExitCode == 0, $"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{errors}\n{output}");
        return output;
    }
}
