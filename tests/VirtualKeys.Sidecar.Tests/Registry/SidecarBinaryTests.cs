using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Npgsql;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Postgres;
using VirtualKeys.Testing.Processes;

namespace VirtualKeys.Sidecar.Tests.Registry;

/// <summary>The sidecar binary, started as a process the way a pod (or the benchmark) starts it.</summary>
public sealed class SidecarBinaryTests(SidecarRegistryFixture database, PostgresFixture server) : IClassFixture<SidecarRegistryFixture>
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(90);

    private static readonly string Binary = Path.Combine(AppContext.BaseDirectory, "VirtualKeys.Sidecar.dll");

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("Shared", "shared")]
    [InlineData("Local", "local")]
    public async Task The_binary_keeps_its_limits_where_Quota__Mode_says(string mode, string reported)
    {
        var port = LoopbackPorts.Free();
        using var sidecar = Start(port, ("Quota__Mode", mode));
        try
        {
            var ready = await WaitForReadyAsync(sidecar, port);

            Assert.Equal(reported, ready.GetProperty("quotaMode").GetString());
            Assert.False(ready.GetProperty("quotaDegraded").GetBoolean());
        }
        finally
        {
            sidecar.Kill(entireProcessTree: true);
            await sidecar.WaitForExitAsync(CancellationToken.None);
        }
    }

    // Each bad setting stops the binary before it serves or opens the registry: exit code 2 and one
    // line that names the setting, no stack trace.
    [Theory]
    [InlineData("Quota__Mode", "Sideways", "Quota:Mode")]
    [InlineData("Sidecar__Port", "eighty", "Sidecar:Port")]
    [InlineData("Sidecar__UsageBatchSize", "0", "UsageBatchSize must be positive")]
    [InlineData("Sidecar__DecisionTtl", "2.00:00:00", "DecisionTtl must be at most")]
    [InlineData("Registry__FullSyncInterval", "hourly", "Registry:FullSyncInterval")]
    [InlineData("Sidecar__MetricsPort", "70000", "MetricsPort 70000 is out of range")]
    public async Task A_bad_setting_stops_the_binary_with_exit_code_2_and_one_line_naming_it(string name, string value, string named)
    {
        var (exitCode, lines) = await RunToExitAsync((name, value));

        Assert.Equal(2, exitCode);
        var line = Assert.Single(lines);
        Assert.StartsWith("vk-sidecar: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
    }

    // A router pod started before its registry database is there (an outage, or a database another
    // controller has yet to create): the sidecar waits for it and serves once it comes, instead of
    // exiting into the kubelet's restart back-off.
    [Fact]
    public async Task A_sidecar_started_before_its_database_exists_waits_for_it_and_serves_once_it_is_there()
    {
        var connectionString = await server.CreateDatabaseAsync("late", Cancel);
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        var kek = Path.Combine(Path.GetTempPath(), "vk-kek-late-" + Guid.NewGuid().ToString("N"));
        KeyEncryptionKey.WriteNewFile(kek);
        try
        {
            await server.ExecuteAsync($"DROP DATABASE \"{name}\"", Cancel);
            var port = LoopbackPorts.Free();
            using var sidecar = Start(port, ("Registry__ConnectionString", connectionString), ("Registry__KekFile", kek));
            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
                limit.CancelAfter(StartLimit);
                var waiting = await sidecar.StandardError.ReadLineAsync(limit.Token);
                Assert.StartsWith("vk-sidecar: cannot open the registry yet: ", waiting, StringComparison.Ordinal);
                Assert.Contains($"(3D000: database \"{name}\" does not exist)", waiting, StringComparison.Ordinal);
                Assert.False(sidecar.HasExited, "the sidecar exited instead of waiting for its database");

                await server.ExecuteAsync($"CREATE DATABASE \"{name}\"", Cancel);
                var ready = await WaitForReadyAsync(sidecar, port);

                Assert.Equal("shared", ready.GetProperty("quotaMode").GetString());
            }
            finally
            {
                sidecar.Kill(entireProcessTree: true);
                await sidecar.WaitForExitAsync(CancellationToken.None);
            }
        }
        finally
        {
            File.Delete(kek);
            await server.DropDatabaseAsync(connectionString, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_stop_while_it_waits_for_the_registry_ends_the_sidecar_with_exit_code_0()
    {
        using var sidecar = Start(LoopbackPorts.Free(), ("Registry__ConnectionString", $"Host=127.0.0.1;Port={LoopbackPorts.Free()};Username=vk;Timeout=2"));
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        limit.CancelAfter(StartLimit);
        var waiting = await sidecar.StandardError.ReadLineAsync(limit.Token);
        Assert.StartsWith("vk-sidecar: cannot open the registry yet: ", waiting, StringComparison.Ordinal);

        Assert.Equal(0, await ToolProcess.TerminateAsync(sidecar, limit.Token));
    }

    [Fact]
    public async Task A_malformed_connection_string_ends_the_sidecar_at_once_instead_of_waiting()
    {
        var (exitCode, lines) = await RunToExitAsync(("Registry__ConnectionString", "Host=db.internal;Port=5432;Frobnicate=yes"));

        Assert.Equal(1, exitCode);
        var line = Assert.Single(lines);
        Assert.StartsWith("vk-sidecar: cannot open the registry: The registry connection string (host db.internal, port 5432) is malformed", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_KEK_file_ends_the_sidecar_at_once_naming_it_without_waiting_for_the_registry()
    {
        var missing = Path.Combine(Path.GetTempPath(), "vk-kek-missing-" + Guid.NewGuid().ToString("N"));
        var (exitCode, lines) = await RunToExitAsync(("Registry__ConnectionString", $"Host=127.0.0.1;Port={LoopbackPorts.Free()};Username=vk;Timeout=2"), ("Registry__KekFile", missing));

        Assert.Equal(1, exitCode);
        Assert.Equal($"vk-sidecar: the KEK file {missing} (Registry__KekFile) does not exist: mount the operator's KEK Secret there.", Assert.Single(lines));
    }

    [Fact]
    public async Task A_role_without_the_rights_the_registry_needs_ends_the_sidecar_with_one_line_naming_the_refusal()
    {
        var connectionString = await server.CreateDatabaseAsync("norights", Cancel);
        try
        {
            await using var role = await server.CreateRoleWithoutRightsAsync(connectionString, "norights", Cancel);
            var (exitCode, lines) = await RunToExitAsync(("Registry__ConnectionString", role.ConnectionString));

            Assert.Equal(1, exitCode);
            var line = Assert.Single(lines);
            Assert.StartsWith("vk-sidecar: cannot open the registry: ", line, StringComparison.Ordinal);
            Assert.Contains("42501", line, StringComparison.Ordinal);
        }
        finally
        {
            await server.DropDatabaseAsync(connectionString, CancellationToken.None);
        }
    }

    /// <summary>Runs the binary until it exits by itself: its exit code and the lines it wrote to stderr.</summary>
    private async Task<(int ExitCode, string[] Lines)> RunToExitAsync(params (string Name, string Value)[] settings)
    {
        var result = await ToolProcess.RunAsync(
            "dotnet", [Binary], timeout: StartLimit, workingDirectory: AppContext.BaseDirectory, environment: Settings(LoopbackPorts.Free(), settings));
        return (result.ExitCode, result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private Process Start(int port, params (string Name, string Value)[] settings) =>
        ToolProcess.StartLongRunning("dotnet", [Binary], AppContext.BaseDirectory, Settings(port, settings));

    /// <summary>The class's registry and KEK, the port, then <paramref name="settings"/> over them.</summary>
    private Dictionary<string, string> Settings(int port, (string Name, string Value)[] settings)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Registry__ConnectionString"] = database.ConnectionString,
            ["Registry__KekFile"] = database.KekPath,
            ["Sidecar__Port"] = port.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (name, value) in settings)
        {
            environment[name] = value;
        }

        return environment;
    }

    private static async Task<JsonElement> WaitForReadyAsync(Process sidecar, int port)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTimeOffset.UtcNow + StartLimit;
        while (true)
        {
            Assert.False(sidecar.HasExited, $"the sidecar exited with {(sidecar.HasExited ? sidecar.ExitCode : 0)}");
            try
            {
                using var response = await http.GetAsync("readyz", Cancel);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancel)).RootElement.Clone();
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!Cancel.IsCancellationRequested)
            {
                // One answer slower than the client's timeout (a loaded machine): ask again within the limit.
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, $"the sidecar was not ready within {StartLimit}");
            await Task.Delay(TimeSpan.FromMilliseconds(200), Cancel);
        }
    }
}
