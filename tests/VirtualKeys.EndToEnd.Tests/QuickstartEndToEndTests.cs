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

    private Task RunAsync(ClusterBackend backend) =>
        BackendRun.RunAsync(backend, postgres, "e2e_", (configuration, registry, workDirectory) =>
            new QuickstartScenario(configuration, registry, workDirectory).RunAsync(TestContext.Current.CancellationToken));
}
