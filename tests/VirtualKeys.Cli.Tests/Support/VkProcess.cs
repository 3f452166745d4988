using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace VirtualKeys.Cli.Tests.Support;

/// <summary>
/// A long-running <c>vk</c> process (local-cluster, demo --keep) in a session and process group of its
/// own, as a shell runs a command: its output as it comes, Ctrl+C and kills sent to its whole group as
/// a terminal sends them, and a kill on dispose.
/// </summary>
internal sealed class VkProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Lock _gate = new();
    private readonly Task _readers;

    private VkProcess(Process process)
    {
        _process = process;
        _readers = Task.WhenAll(PumpAsync(process.StandardOutput, _stdout), PumpAsync(process.StandardError, _stderr));
    }

    public string Stdout
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    public static VkProcess Start(string workingDirectory, params string[] args)
    {
        // setsid execs in place (a new child is no group leader), so the process is vk itself and its
        // id is its group's.
        var start = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vk.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return new VkProcess(Process.Start(start)!);
    }

    /// <summary>Waits until stdout contains <paramref name="text"/>; fails with both outputs if the process ends first or time runs out.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                await _readers;
                if (Stdout.Contains(text, StringComparison.Ordinal))
                {
                    return;
                }

                Assert.Fail($"vk exited with {_process.ExitCode} before printing \"{text}\".\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"vk did not print \"{text}\" within {timeout}.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Sends SIGINT to the whole process group, as Ctrl+C in a terminal does, and returns the exit code.</summary>
    public async Task<int> InterruptAsync(TimeSpan timeout)
    {
        await SignalGroupAsync("INT");
        return await WaitForExitAsync(timeout);
    }

    /// <summary>Sends a signal (INT, KILL, ...) to every process of the group: vk and whatever it started there.</summary>
    public async Task SignalGroupAsync(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", "--", "-" + _process.Id.ToString(CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, kill.ExitCode);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"vk did not exit within {timeout}.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }

        await _readers;
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        await _readers;
        _process.Dispose();
    }

    private async Task PumpAsync(StreamReader reader, StringBuilder target)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer, CancellationToken.None)) > 0)
        {
            lock (_gate)
            {
                target.Append(buffer, 0, read);
            }
        }
    }
}
