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

    private Task RunAsync(ClusterBackend backend) =>
        BackendRun.RunAsync(backend, postgres, "e2e_operator_", (configuration, registry, workDirectory) =>
            new OperatorScenario(configuration, registry, workDirectory).RunAsync());
}
