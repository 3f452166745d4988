using Npgsql;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;
using VirtualKeys.Testing.Processes;

namespace VirtualKeys.Operator.Tests.Hosting;

/// <summary>The operator binary, started as a process the way its Deployment starts it.</summary>
public sealed class OperatorBinaryTests(PostgresFixture postgres)
{
    private static readonly TimeSpan ExitLimit = TimeSpan.FromSeconds(90);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    // The registry's role may not create the registry's schema: the operator stops with exit code 3 and
    // one line that carries PostgreSQL's refusal, not with the driver's exception and a stack trace.
    [Fact]
    public async Task A_role_without_the_rights_the_registry_needs_ends_the_operator_with_exit_code_3_and_one_line()
    {
        var connectionString = await postgres.CreateDatabaseAsync("opnorights", Cancel);
        var role = "vk_opnorights_" + Guid.NewGuid().ToString("N")[..8];
        var directory = Directory.CreateTempSubdirectory("vk-operator-binary-");
        await postgres.ExecuteAsync($"CREATE ROLE {role} LOGIN", Cancel);
        try
        {
            var kek = Path.Combine(directory.FullName, "kek");
            KeyEncryptionKey.WriteNewFile(kek);

            // Read, never contacted: the registry is opened before the operator talks to the API server.
            var kubeconfig = Path.Combine(directory.FullName, "kubeconfig");
            await File.WriteAllTextAsync(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
                users: [{name: none, user: {token: not-a-token}}]
                contexts: [{name: none, context: {cluster: none, user: none}}]
                current-context: none
                """, Cancel);

            var result = await ToolProcess.RunAsync(
                "dotnet",
                [Path.Combine(AppContext.BaseDirectory, "VirtualKeys.Operator.dll")],
                timeout: ExitLimit,
                workingDirectory: AppContext.BaseDirectory,
                environment: new Dictionary<string, string>
                {
                    ["Registry__ConnectionString"] = new NpgsqlConnectionStringBuilder(connectionString) { Username = role }.ConnectionString,
                    ["Registry__KekFile"] = kek,
                    ["Kubernetes__Kubeconfig"] = kubeconfig,
                });

            var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Assert.Equal(3, result.ExitCode);
            Assert.StartsWith("The registry cannot be used: 42501: ", line, StringComparison.Ordinal);
        }
        finally
        {
            await postgres.DropDatabaseAsync(connectionString, CancellationToken.None);
            await postgres.ExecuteAsync($"DROP ROLE IF EXISTS {role}", CancellationToken.None);
            directory.Delete(recursive: true);
        }
    }

}
