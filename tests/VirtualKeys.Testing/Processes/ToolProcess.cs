using System.Diagnostics;
using Xunit;

namespace VirtualKeys.Testing.Processes;

/// <summary>
/// Runs a command-line tool (kubectl, helm) for a test: output captured, the test's cancellation
/// honoured, and a hard timeout after which the whole process tree is killed, so a tool waiting on
/// something that never comes cannot hang the run.
/// </summary>
public static class ToolProcess
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(1);

    public static async Task<ToolResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        string? stdin = null,
        TimeSpan? timeout = null,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var argumentList = arguments.ToList();
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            start.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in argumentList)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start");
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? DefaultTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Describe(fileName, argumentList)} did not finish within {limit.TotalSeconds:0}s");
        }

        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs the tool and returns its standard output; a non-zero exit fails with everything it printed.</summary>
    public static async Task<string> SucceedAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan? timeout = null,
        string? workingDirectory = null)
    {
        var argumentList = arguments.ToList();
        var result = await RunAsync(fileName, argumentList, timeout: timeout, workingDirectory: workingDirectory);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Describe(fileName, argumentList)} exited {result.ExitCode}:\n{result.Stderr}\n{result.Stdout}");
        }

        return result.Stdout;
    }

    /// <summary>
    /// Starts a process that runs until told to stop (a binary of this repository, as its pod starts
    /// it): standard error is left for the test to read line by line, standard output is drained so a
    /// chatty process never blocks on a full pipe.
    /// </summary>
    public static Process StartLongRunning(
        string fileName,
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string> environment)
    {
        var argumentList = arguments.ToList();
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in argumentList)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{Describe(fileName, argumentList)} did not start");
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }

    /// <summary>Sends SIGTERM, as the kubelet does to stop a container, and waits for the exit: its exit code.</summary>
    public static async Task<int> TerminateAsync(Process process, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(process);
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(cancellationToken);
        }

        await process.WaitForExitAsync(cancellationToken);
        return process.ExitCode;
    }

    private static string Describe(string fileName, IEnumerable<string> arguments) =>
        $"{Path.GetFileName(fileName)} {string.Join(' ', arguments)}";
}
