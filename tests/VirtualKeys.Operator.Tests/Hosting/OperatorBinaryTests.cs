using System.Diagnostics;
using System.Globalization;
using System.Net;
using Npgsql;
using VirtualKeys.Operator.Tests.Support;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing;
using VirtualKeys.Testing.Postgres;
using VirtualKeys.Testing.Processes;

namespace VirtualKeys.Operator.Tests.Hosting;

/// <summary>The operator binary, started as a process the way its Deployment starts it.</summary>
public sealed class OperatorBinaryTests(PostgresFixture postgres)
{
    private static readonly TimeSpan ExitLimit = TimeSpan.FromSeconds(90);

    private static readonly string Binary = Path.Combine(AppContext.BaseDirectory, "VirtualKeys.Operator.dll");

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    // The registry's role may not create the registry's schema: the operator stops with exit code 3 and
    // one line that carries PostgreSQL's refusal, not with the driver's exception and a stack trace.
    [Fact]
    public async Task A_role_without_the_rights_the_registry_needs_ends_the_operator_with_exit_code_3_and_one_line()
    {
        var connectionString = await postgres.CreateDatabaseAsync("opnorights", Cancel);
        try
        {
            await using var role = await postgres.CreateRoleWithoutRightsAsync(connectionString, "opnorights", Cancel);
            var (exitCode, lines) = await RunToExitAsync((_, kek, kubeconfig) => Settings(role.ConnectionString, kek, kubeconfig, LoopbackPorts.Free()));

            Assert.Equal(3, exitCode);
            Assert.StartsWith("PostgreSQL refused: 42501: ", Assert.Single(lines), StringComparison.Ordinal);
        }
        finally
        {
            await postgres.DropDatabaseAsync(connectionString, CancellationToken.None);
        }
    }

    // An operator pod started before its registry database is there (an outage, or a database another
    // controller has yet to create) waits for it and becomes ready once it comes, instead of exiting
    // into the kubelet's restart back-off.
    [Fact]
    public async Task An_operator_started_before_its_database_exists_waits_for_it_not_listening_and_becomes_ready_once_it_is_there()
    {
        await using var environment = await OperatorEnvironment.StartAsync(postgres, "oplate", bearerToken: "test-" + Guid.NewGuid().ToString("N"));
        var name = new NpgsqlConnectionStringBuilder(environment.ConnectionString).Database!;
        var directory = Directory.CreateTempSubdirectory("vk-operator-binary-");
        await postgres.ExecuteAsync($"DROP DATABASE \"{name}\"", Cancel);
        try
        {
            var kubeconfig = Path.Combine(directory.FullName, "kubeconfig");
            environment.Server.WriteKubeconfig(kubeconfig);
            var port = LoopbackPorts.Free();
            using var operatorProcess = Start(Settings(environment.ConnectionString, environment.KekPath, kubeconfig, port));
            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
                limit.CancelAfter(ExitLimit);
                var waiting = await operatorProcess.StandardError.ReadLineAsync(limit.Token);
                Assert.StartsWith("The registry cannot be opened yet: ", waiting, StringComparison.Ordinal);
                Assert.Contains($"(3D000: database \"{name}\" does not exist)", waiting, StringComparison.Ordinal);
                Assert.False(operatorProcess.HasExited, "the operator exited instead of waiting for its database");
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };

                // Not listening while it waits: the pod's startup probe, not the operator, bounds the wait.
                await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"), limit.Token));

                await postgres.ExecuteAsync($"CREATE DATABASE \"{name}\"", Cancel);
                await Waits.UntilAsync(
                    async () =>
                    {
                        try
                        {
                            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/readyz"), limit.Token);
                            return response.StatusCode == HttpStatusCode.OK;
                        }
                        catch (HttpRequestException)
                        {
                            return false; // not listening yet
                        }
                    },
                    "the operator answers /readyz with 200 after its database was created",
                    ExitLimit);

                // Once open, SIGTERM is the host's again: a graceful stop, exit code 0.
                Assert.Equal(0, await ToolProcess.TerminateAsync(operatorProcess, limit.Token));
            }
            finally
            {
                operatorProcess.Kill(entireProcessTree: true);
                await operatorProcess.WaitForExitAsync(CancellationToken.None);
            }
        }
        finally
        {
            await postgres.DropDatabaseAsync(environment.ConnectionString, CancellationToken.None);
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_stop_while_it_waits_for_the_registry_ends_the_operator_with_exit_code_0()
    {
        var directory = Directory.CreateTempSubdirectory("vk-operator-binary-");
        try
        {
            var (kek, kubeconfig) = await KekAndUnreachableKubeconfigAsync(directory);
            var unreachable = $"Host=127.0.0.1;Port={LoopbackPorts.Free()};Username=vk;Timeout=2";
            using var operatorProcess = Start(Settings(unreachable, kek, kubeconfig, LoopbackPorts.Free()));
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
            limit.CancelAfter(ExitLimit);
            var waiting = await operatorProcess.StandardError.ReadLineAsync(limit.Token);
            Assert.StartsWith("The registry cannot be opened yet: ", waiting, StringComparison.Ordinal);
            Assert.Contains("connection refused", waiting, StringComparison.Ordinal);

            Assert.Equal(0, await ToolProcess.TerminateAsync(operatorProcess, limit.Token));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_missing_KEK_file_ends_the_operator_at_once_without_waiting_for_the_registry()
    {
        var unreachable = $"Host=127.0.0.1;Port={LoopbackPorts.Free()};Username=vk;Timeout=2";
        var missing = "";

        var (exitCode, lines) = await RunToExitAsync((directory, _, kubeconfig) =>
        {
            missing = Path.Combine(directory, "no-such-kek");
            return Settings(unreachable, missing, kubeconfig, LoopbackPorts.Free());
        });

        Assert.Equal(3, exitCode);
        Assert.Contains(missing, Assert.Single(lines), StringComparison.Ordinal);
    }

    // No wait mends a malformed connection string: exit 3 at once, one line naming host and port.
    [Fact]
    public async Task A_malformed_connection_string_ends_the_operator_at_once_instead_of_waiting()
    {
        var (exitCode, lines) = await RunToExitAsync((_, kek, kubeconfig) => Settings("Host=db.internal;Port=5432;Frobnicate=yes", kek, kubeconfig, LoopbackPorts.Free()));

        Assert.Equal(3, exitCode);
        Assert.StartsWith("The registry connection string (host db.internal, port 5432) is malformed", Assert.Single(lines), StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs the binary until it exits by itself, with a fresh KEK and a kubeconfig it never contacts in a
    /// temporary folder; <paramref name="settings"/> gets the folder, the KEK and the kubeconfig. Its exit
    /// code and the lines it wrote to stderr.
    /// </summary>
    private static async Task<(int ExitCode, string[] Lines)> RunToExitAsync(Func<string, string, string, Dictionary<string, string>> settings)
    {
        var directory = Directory.CreateTempSubdirectory("vk-operator-binary-");
        try
        {
            var (kek, kubeconfig) = await KekAndUnreachableKubeconfigAsync(directory);
            var result = await ToolProcess.RunAsync(
                "dotnet", [Binary], timeout: ExitLimit, workingDirectory: AppContext.BaseDirectory, environment: settings(directory.FullName, kek, kubeconfig));
            return (result.ExitCode, result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task<(string Kek, string Kubeconfig)> KekAndUnreachableKubeconfigAsync(DirectoryInfo directory)
    {
        var kek = Path.Combine(directory.FullName, "kek");
        KeyEncryptionKey.WriteNewFile(kek);
        var kubeconfig = Path.Combine(directory.FullName, "kubeconfig");
        await File.WriteAllTextAsync(kubeconfig, UnreachableKubeconfig, Cancel);
        return (kek, kubeconfig);
    }

    // Read, never contacted: these tests end before the operator talks to the API server.
    private const string UnreachableKubeconfig = """
        apiVersion: v1
        kind: Config
        clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: none, user: {token: not-a-token}}]
        contexts: [{name: none, context: {cluster: none, user: none}}]
        current-context: none
        """;

    private static Dictionary<string, string> Settings(string connectionString, string kekFile, string kubeconfig, int port) => new(StringComparer.Ordinal)
    {
        ["Registry__ConnectionString"] = connectionString,
        ["Registry__KekFile"] = kekFile,
        ["Kubernetes__Kubeconfig"] = kubeconfig,
        ["LeaderElection__Enabled"] = "false",
        ["Urls"] = $"http://127.0.0.1:{port}",
    };

    private static Process Start(Dictionary<string, string> settings) =>
        ToolProcess.StartLongRunning("dotnet", [Binary], AppContext.BaseDirectory, settings);
}
