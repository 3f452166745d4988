using k8s;
using VirtualKeys.EndToEnd.Tests.Backends;
using VirtualKeys.EndToEnd.Tests.Scenario;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.EndToEnd.Tests;

/// <summary>
/// The operator's scenarios (issue #4) against each backend: the local API server always, K3s where
/// a Docker engine answers (skipped without one, never passed).
/// </summary>
public sealed class OperatorEndToEndTests(PostgresFixture postgres)
{
    [Fact]
    public Task OperatorScenarios_OnLocalApiServer() => RunAsync(new LocalBackend());

    [Fact]
    public Task OperatorScenarios_OnK3s() => RunAsync(new K3sBackend());

    private async Task RunAsync(ClusterBackend backend)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using (backend)
        {
            var configuration = await backend.StartAsync(cancellationToken);
            if (configuration is null)
            {
                Assert.Skip(backend.UnavailableReason ?? $"{backend.Name} backend unavailable");
            }

            await RunScenarioAsync(backend.Name, configuration, cancellationToken);
        }
    }

    private async Task RunScenarioAsync(string backendName, KubernetesClientConfiguration configuration, CancellationToken cancellationToken)
    {
        var registry = await postgres.CreateDatabaseAsync("e2e_operator_" + backendName, cancellationToken);
        var workDirectory = Directory.CreateTempSubdirectory("vk-e2e-operator-").FullName;
        try
        {
            await new OperatorScenario(configuration, registry, workDirectory).RunAsync();
        }
        finally
        {
            Directory.Delete(workDirectory, recursive: true);
            await postgres.DropDatabaseAsync(registry);
        }
    }
}
