using System.Net;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Sidecar.Tests.Registry;

/// <summary>On a private PostgreSQL cluster, so stopping it disturbs no other test.</summary>
public sealed class RegistryOutageTests : IAsyncLifetime
{
    private readonly string _kekPath = Path.Combine(Path.GetTempPath(), "vk-kek-sidecar-outage-" + Guid.NewGuid().ToString("N"));
    private PostgresCluster? _cluster;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        KeyEncryptionKey.WriteNewFile(_kekPath);
        _cluster = await PostgresCluster.StartNewAsync(cancellationToken: Cancel);
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        File.Delete(_kekPath);
    }

    [Fact]
    public async Task While_PostgreSQL_restarts_the_sidecar_serves_its_snapshot_and_afterwards_sees_new_changes()
    {
        var cluster = _cluster!;
        await using var sidecar = await RegistrySidecar.StartAsync(cluster.GetConnectionString(), _kekPath);
        var (_, _, before) = await sidecar.AddKeyAsync();
        using (var served = await sidecar.ResolveUntilAsync(before, HttpStatusCode.OK, TimeSpan.FromSeconds(10)))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }

        await cluster.StopAsync(Cancel);
        using var duringOutage = await sidecar.ResolveAsync(before);
        await cluster.StartAsync(Cancel);
        var (identity, _, after) = await sidecar.AddKeyAsync();
        using var afterRestart = await sidecar.ResolveUntilAsync(after, HttpStatusCode.OK, TimeSpan.FromSeconds(60));
        await sidecar.Registry.TombstoneAsync(identity, Cancel);
        using var tombstoned = await sidecar.ResolveUntilAsync(after, HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(5));

        Assert.Equal(HttpStatusCode.OK, duringOutage.StatusCode);
        Assert.Equal(HttpStatusCode.OK, afterRestart.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, tombstoned.StatusCode);
    }
}
