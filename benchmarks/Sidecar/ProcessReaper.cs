using System.Diagnostics;
using System.Globalization;

namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>
/// A watchdog shell fed by a pipe from this process: each child process group is written to it as it
/// starts, and when the pipe closes (dispose, Ctrl-C, or this process being killed outright) it
/// SIGKILLs every group still alive and removes the run's temp directory. It ignores SIGINT, SIGTERM and
/// SIGHUP: Ctrl-C and <c>timeout</c> signal the whole process group, and it must outlive this process.
/// </summary>
internal sealed class ProcessReaper : IDisposable
{
    private const string Script =
        """
        trap '' INT TERM HUP
        groups=
        while read -r group; do groups="$groups $group"; done
        for group in $groups; do kill -KILL -- "-$group" 2>/dev/null; done
        sleep 0.2
        rm -rf -- "$1"
        """;

    private readonly Process _watchdog;
    private readonly Lock _gate = new();
    private bool _disposed;

    private ProcessReaper(Process watchdog) => _watchdog = watchdog;

    public static ProcessReaper Start(string directory)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-c", Script, "vk-sidecar-bench-reaper", directory })
        {
            start.ArgumentList.Add(argument);
        }

        return new ProcessReaper(Process.Start(start) ?? throw new InvalidOperationException("the clean-up watchdog did not start"));
    }

    /// <summary>Every child runs under <c>setsid</c>, so its pid is its process group.</summary>
    public void Watch(int processGroup)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _watchdog.StandardInput.WriteLine(processGroup.ToString(CultureInfo.InvariantCulture));
            _watchdog.StandardInput.Flush();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _watchdog.StandardInput.Close();
        if (!_watchdog.WaitForExit(TimeSpan.FromSeconds(15)))
        {
            _watchdog.Kill();
        }

        _watchdog.Dispose();
    }
}
