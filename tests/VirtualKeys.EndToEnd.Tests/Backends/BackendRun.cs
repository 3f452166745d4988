using k8s;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.EndToEnd.Tests.Backends;

/// <summary>
/// Runs one scenario against one backend with a fresh registry database and work directory, and
/// skips (never passes) when the backend cannot run here.
/// </summary>
internal static class BackendRun
{
    public static async Task RunAsync(
        ClusterBackend backend,
        PostgresFixture postgres,
        string databasePrefix,
        Func<KubernetesClientConfiguration, string, string, Task> scenario)
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        await using (backend)
        {
            var configuration = await backend.StartAsync(cancellationToken);
            if (configuration is null)
            {
                Assert.Skip(backend.UnavailableReason ?? $"{backend.Name} backend unavailable");
            }

            var registry = await postgres.CreateDatabaseAsync(databasePrefix + backend.Name, cancellationToken);
            var workDirectory = Directory.CreateTempSubdirectory("vk-" + databasePrefix.Replace('_', '-')).FullName;
            try
            {
                await scenario(configuration, registry, workDirectory);
            }
            finally
            {
                Directory.Delete(workDirectory, recursive: true);
                await postgres.DropDatabaseAsync(registry);
            }
        }
    }
}
