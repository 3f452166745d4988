using System.Globalization;
using System.Reflection;
using System.Text.Json;
using VirtualKeys.Testing;

namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>
/// The real sidecar binary (<c>dotnet VirtualKeys.Sidecar.dll</c>) as a process of its own on the
/// registry, configured the way a Deployment would be: through environment variables.
/// </summary>
internal sealed class SidecarProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly HttpClient _http;

    private SidecarProcess(ChildProcess process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
    }

    public Uri BaseAddress { get; }

    public int Pid => _process.Pid;

    public string Name => _process.Name;

    /// <summary>The build output of src/VirtualKeys.Sidecar in this configuration (built as a project reference).</summary>
    public static string AssemblyPath =>
        typeof(SidecarProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SidecarAssembly").Value
        ?? throw new InvalidOperationException("the SidecarAssembly metadata is missing from the benchmark's build");

    public static SidecarProcess Start(
        string name,
        string connectionString,
        string kekFile,
        IReadOnlyDictionary<string, string> settings,
        string directory,
        ProcessReaper reaper)
    {
        var dll = Path.GetFullPath(AssemblyPath);
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"the sidecar is not built at {dll}: run through benchmarks/run, which builds it");
        }

        var port = LoopbackPorts.Free();
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Registry__ConnectionString"] = connectionString,
            ["Registry__KekFile"] = kekFile,
            ["Sidecar__ListenAddress"] = "127.0.0.1",
            ["Sidecar__Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["Logging__LogLevel__Default"] = "Warning",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        var process = ChildProcess.Start(name, "dotnet", [dll], environment, Path.Combine(directory, name + ".log"), reaper);
        return new SidecarProcess(process, new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/")));
    }

    /// <summary>The quota mode /readyz reported when the sidecar became ready; null when it names none.</summary>
    public string? QuotaMode { get; private set; }

    /// <summary>Polls /readyz until the snapshot holds <paramref name="keys"/> keys.</summary>
    public async Task WaitReadyAsync(int keys, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        var seen = -1;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited while starting: {_process.LogTail()}");
            }

            try
            {
                using var response = await _http.GetAsync("readyz", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
                    seen = report.RootElement.TryGetProperty("keys", out var count) ? count.GetInt32() : -1;
                    if (seen == keys)
                    {
                        QuotaMode = report.RootElement.TryGetProperty("quotaMode", out var mode) ? mode.GetString() : null;
                        return;
                    }
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name} did not serve {keys} keys within {timeout.TotalSeconds:0}s (last saw {seen}): {_process.LogTail()}");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>VmRSS from /proc: what the kernel holds resident for this process alone.</summary>
    public long ResidentBytes()
    {
        var line = File.ReadLines($"/proc/{Pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        var kib = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return kib * 1024;
    }

    public Task StopAsync() => _process.StopAsync(TimeSpan.FromSeconds(15));

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync();
    }
}
