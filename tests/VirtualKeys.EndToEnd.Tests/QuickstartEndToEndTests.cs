using k8s;
using VirtualKeys.EndToEnd.Tests.Backends;
using VirtualKeys.EndToEnd.Tests.Scenario;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.EndToEnd.Tests;

/// <summary>
/// The quickstart scenario against each backend: the in-process local API server always, K3s
/// (Testcontainers) where a Docker engine answers; without one the K3s test reports itself skipped.
/// </summary>
public sealed class QuickstartEndToEndTests(PostgresFixture postgres)
{
    [Fact]
    public Task Quickstart_OnLocalApiServer() => RunAsync(new LocalBackend());

    [Fact]
    public Task Quickstart_OnK3s() => RunAsync(new K3sBackend());

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
        var registry = await postgres.CreateDatabaseAsync("e2e_" + backendName, cancellationToken);
        var workDirectory = Directory.CreateTempSubdirectory("vk-e2e-").FullName;
        try
        {
            await new QuickstartScenario(configuration, registry, workDirectory).RunAsync(cancellationToken);
        }
        finally
        {
            Directory.Delete(workDirectory, recursive: true);
            await postgres.DropDatabaseAsync(registry);
        }
    }
}
