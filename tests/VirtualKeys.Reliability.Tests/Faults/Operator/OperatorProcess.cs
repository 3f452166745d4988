using System.Collections.Concurrent;
using System.Diagnostics;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing;

namespace VirtualKeys.Reliability.Tests.Faults.Operator;

/// <summary>
/// The built operator (<c>dotnet VirtualKeys.Operator.dll</c>) as a child process, configured only
/// through environment variables as the chart configures it. <see cref="Kill"/> is SIGKILL on Unix
/// (<see cref="Process.Kill()"/>): no drain, no lease release, no flush. Every line it writes is kept
/// and handed to the <see cref="SecretLedger"/> when the process is disposed.
/// </summary>
internal sealed class OperatorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<OperatorLogLine> _lines = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private int _disposed;

    private OperatorProcess(Process process, string identity, int port)
    {
        _process = process;
        Identity = identity;
        Port = port;
        StartedAt = DateTimeOffset.UtcNow;
    }

    public string Identity { get; }

    /// <summary>Where <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> answer.</summary>
    public int Port { get; }

    public DateTimeOffset StartedAt { get; }

    public DateTimeOffset? KilledAt { get; private set; }

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<OperatorLogLine> Lines => [.. _lines];

    /// <param name="environment">Settings in their environment-variable spelling (<c>Registry__ConnectionString</c>, ...).</param>
    public static OperatorProcess Start(string identity, IReadOnlyDictionary<string, string> environment)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "VirtualKeys.Operator.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException("The operator is not built next to the tests.", dll);
        }

        var port = LoopbackPorts.Free();
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(dll);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["Urls"] = $"http://127.0.0.1:{port}";
        start.Environment["LeaderElection__Identity"] = identity;
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_gcServer"] = "0";

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var running = new OperatorProcess(process, identity, port);
        process.OutputDataReceived += (_, e) => running.Add(e.Data);
        process.ErrorDataReceived += (_, e) => running.Add(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"The operator process {identity} did not start.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return running;
    }

    /// <summary>SIGKILL, then waits until the process is gone.</summary>
    public void Kill()
    {
        if (_process.HasExited)
        {
            throw new InvalidOperationException($"Operator {Identity} exited by itself (code {_process.ExitCode}) before it was killed.");
        }

        KilledAt = DateTimeOffset.UtcNow;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>The log lines of <paramref name="category"/> with one of <paramref name="eventIds"/>.</summary>
    public IReadOnlyList<OperatorLogLine> Events(string category, params int[] eventIds) =>
        [.. _lines.Where(l => l.Category == category && l.EventId is { } id && eventIds.Contains(id))];

    /// <summary>
    /// The reconciler's lines about a write it made: token issued or rotated, registry updated,
    /// tombstoned (event ids 4001, 4002, 4003, 4005 of VirtualKeyReconciler).
    /// </summary>
    public IReadOnlyList<OperatorLogLine> ReconcilerWrites() =>
        Events("VirtualKeys.Operator.Reconciliation.VirtualKeyReconciler", 4001, 4002, 4003, 4005);

    public async Task<string?> TryGetAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await _http.GetStringAsync(new Uri($"http://127.0.0.1:{Port}{path}"), cancellationToken);
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Waits until <c>/readyz</c> answers 200: caches synced and the registry reachable.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan bound, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + bound;
        while (await TryGetAsync("/readyz", cancellationToken) is null)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Operator {Identity} exited with code {_process.ExitCode}: {Tail()}");
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"Operator {Identity} was not ready within {bound.TotalSeconds:0}s: {Tail()}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>The last lines, for a failure message (the ledger checks them like every other output).</summary>
    public string Tail(int count = 15) => string.Join(Environment.NewLine, _lines.TakeLast(count).Select(l => l.Text));

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        // Give the asynchronous readers their last lines.
        _process.WaitForExit();
        SecretLedger.Observe($"operator process {Identity} log", string.Join('\n', _lines.Select(l => l.Text)));
        _process.Dispose();
        _http.Dispose();
    }

    private void Add(string? line)
    {
        if (line is not null)
        {
            _lines.Enqueue(new OperatorLogLine(DateTimeOffset.UtcNow, line));
        }
    }

    private static string DotnetHost()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }
}
