using System.Diagnostics;
using System.Globalization;
using System.Net;
using VirtualKeys.Testing;

namespace VirtualKeys.Operator.Benchmarks;

/// <summary>
/// The real operator binary (VirtualKeys.Operator, built beside this benchmark) in a process of
/// its own, configured as the chart configures it (environment variables), so its memory is its
/// own and its GC mode is the shipped one. A shell between the two holds a pipe from this
/// process: when the pipe closes (dispose, Ctrl-C, or this process dying) the shell stops the
/// operator with SIGTERM, then SIGKILL after a grace period.
/// </summary>
internal sealed class OperatorProcess : IAsyncDisposable
{
    private readonly Process _shell;
    private readonly HttpClient _http;
    private int _disposed;

    private OperatorProcess(Process shell, int pid, int port, string logFile)
    {
        _shell = shell;
        Pid = pid;
        LogFile = logFile;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Pid { get; }

    /// <summary>Where the operator's stdout and stderr go (JSON log lines at Warning and above).</summary>
    public string LogFile { get; }

    public static async Task<OperatorProcess> StartAsync(IReadOnlyDictionary<string, string> environment, string logFile, CancellationToken cancellationToken)
    {
        var binary = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "VirtualKeys.Operator.exe" : "VirtualKeys.Operator");
        if (!File.Exists(binary))
        {
            throw new InvalidOperationException($"the operator binary is not at {binary}: build benchmarks/Operator, which builds it");
        }

        const string Script =
            """
            "$1" >"$2" 2>&1 </dev/null &
            pid=$!
            echo "$pid"
            cat >/dev/null
            kill -TERM "$pid" 2>/dev/null
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            exit 0
            """;
        var port = LoopbackPorts.Free();
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-c", Script, "vk-operator-benchmark", binary, logFile })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["Urls"] = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        var shell = Process.Start(start) ?? throw new InvalidOperationException("the operator's shell did not start");
        var line = await shell.StandardOutput.ReadLineAsync(cancellationToken);
        if (!int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            shell.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"the operator's shell did not report a process id ({line})");
        }

        return new OperatorProcess(shell, pid, port, logFile);
    }

    public bool HasExited => _shell.HasExited || !File.Exists($"/proc/{Pid.ToString(CultureInfo.InvariantCulture)}/status");

    /// <summary>True once <c>/readyz</c> answers 200: caches synced and the registry reachable.</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync("readyz", cancellationToken);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public async Task<PrometheusText> ScrapeAsync(CancellationToken cancellationToken) =>
        new(await _http.GetStringAsync("metrics", cancellationToken));

    /// <summary>Resident memory now and at its peak (VmRSS and VmHWM of /proc/PID/status), in MiB.</summary>
    public (double Current, double Peak) Memory()
    {
        double current = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{Pid.ToString(CultureInfo.InvariantCulture)}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                current = Kilobytes(line) / 1024.0;
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kilobytes(line) / 1024.0;
            }
        }

        return (current, peak);
    }

    /// <summary>User plus system CPU time the operator has used so far (/proc/PID/stat).</summary>
    public TimeSpan CpuTime()
    {
        var stat = File.ReadAllText($"/proc/{Pid.ToString(CultureInfo.InvariantCulture)}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }

    public string LogTail(int lines) =>
        File.Exists(LogFile) ? string.Join(Environment.NewLine, File.ReadLines(LogFile).TakeLast(lines)) : "(no log)";

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _http.Dispose();
        try
        {
            _shell.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await _shell.WaitForExitAsync(timeout.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            _shell.Kill(entireProcessTree: true);
        }

        _shell.Dispose();
    }

    private static long Kilobytes(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}
