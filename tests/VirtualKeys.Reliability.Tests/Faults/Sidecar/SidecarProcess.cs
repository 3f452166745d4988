using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using VirtualKeys.Reliability.Tests.Support;
using VirtualKeys.Testing;

namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>
/// The built sidecar binary (<c>dotnet VirtualKeys.Sidecar.dll</c>) as a child process on a loopback
/// port, so SIGTERM and SIGKILL are real signals. Its stdout and stderr are kept and handed to the
/// <see cref="SecretLedger"/> when it is disposed.
/// </summary>
internal sealed class SidecarProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();
    private readonly string _name;
    private bool _observed;

    private SidecarProcess(Process process, Uri baseAddress, string name)
    {
        _process = process;
        BaseAddress = baseAddress;
        _name = name;
    }

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process wrote so far, stdout and stderr interleaved.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the sidecar against the registry and waits until /readyz answers 200 (first snapshot loaded).</summary>
    /// <param name="settings">Extra environment, e.g. <c>Sidecar__PricingFile</c>.</param>
    public static async Task<SidecarProcess> StartAsync(
        string name,
        string connectionString,
        string kekPath,
        IReadOnlyDictionary<string, string>? settings,
        CancellationToken cancellationToken)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "VirtualKeys.Sidecar.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: the test project references VirtualKeys.Sidecar, so a build puts it there.");
        }

        var port = LoopbackPorts.Free();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(dll);
        start.Environment["Registry__ConnectionString"] = connectionString;
        start.Environment["Registry__KekFile"] = kekPath;
        start.Environment["Sidecar__ListenAddress"] = "127.0.0.1";
        start.Environment["Sidecar__Port"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("The sidecar process did not start.");
        var sidecar = new SidecarProcess(process, new Uri($"http://127.0.0.1:{port}/"), name);
        process.OutputDataReceived += (_, e) => sidecar.Append(e.Data);
        process.ErrorDataReceived += (_, e) => sidecar.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await sidecar.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken);
            return sidecar;
        }
        catch
        {
            await sidecar.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGTERM, as Kubernetes sends it when a pod stops.</summary>
    public void Terminate() => Signal("TERM");

    /// <summary>Waits for the exit; null when it did not come within <paramref name="limit"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(limit);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        // Let the asynchronous readers deliver the last lines before the output is scanned.
        _process.WaitForExit();
        if (!_observed)
        {
            _observed = true;
            SecretLedger.Observe($"sidecar process '{_name}' output", Output);
        }

        _process.Dispose();
    }

    private async Task WaitReadyAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTimeOffset.UtcNow + limit;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The sidecar exited with {_process.ExitCode} before it was ready:{Environment.NewLine}{Output}");
            }

            try
            {
                using var response = await client.GetAsync("/readyz", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // One answer slower than the client's timeout (a loaded machine): ask again within the limit.
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"The sidecar was not ready within {limit.TotalSeconds:0}s:{Environment.NewLine}{Output}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill")
        {
            ArgumentList = { "-" + signal, _process.Id.ToString(CultureInfo.InvariantCulture) },
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("kill did not start.");
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {_process.Id} exited with {kill.ExitCode}.");
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _output.AppendLine(line);
        }
    }
}
