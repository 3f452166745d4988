using System.Diagnostics;
using System.Globalization;

namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>
/// A server process of the run (a sidecar, nginx) in a session of its own, so that Ctrl-C in the
/// terminal reaches only this program, which stops it in order, and a group kill reaches all of its
/// workers. Output goes to a log file whose end is shown when it fails.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private int _stopped;

    private ChildProcess(string name, Process process, string logFile)
    {
        Name = name;
        _process = process;
        LogFile = logFile;
    }

    public string Name { get; }

    /// <summary>Also the process group: <c>setsid</c> made it a group leader, and exec kept the pid.</summary>
    public int Pid => _process.Id;

    public string LogFile { get; }

    public bool HasExited => _process.HasExited;

    public static ChildProcess Start(
        string name,
        string program,
        IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string> environment,
        string logFile,
        ProcessReaper reaper,
        string? runAsUser = null)
    {
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("log=$1; shift; exec setsid \"$@\" >\"$log\" 2>&1");
        start.ArgumentList.Add(name);
        start.ArgumentList.Add(logFile);
        if (runAsUser is not null)
        {
            foreach (var argument in new[] { "runuser", "-u", runAsUser, "--" })
            {
                start.ArgumentList.Add(argument);
            }
        }

        start.ArgumentList.Add(program);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start");
        reaper.Watch(process.Id);
        return new ChildProcess(name, process, logFile);
    }

    /// <summary>The last lines of the log, for error messages.</summary>
    public string LogTail(int lines = 8) =>
        File.Exists(LogFile) ? string.Join(" | ", File.ReadLines(LogFile).TakeLast(lines)) : "(no log)";

    /// <summary>SIGTERM to the group, SIGKILL after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0 || _process.HasExited)
        {
            return;
        }

        await SignalGroupAsync("TERM");
        using var wait = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            await SignalGroupAsync("KILL");
            await _process.WaitForExitAsync(CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5));
        _process.Dispose();
    }

    private async Task SignalGroupAsync(string signal)
    {
        var start = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var argument in new[] { "-" + signal, "--", "-" + Pid.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using var kill = Process.Start(start);
        if (kill is not null)
        {
            await kill.WaitForExitAsync(CancellationToken.None);
        }
    }
}
