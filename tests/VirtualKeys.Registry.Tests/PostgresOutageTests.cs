using Npgsql;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Notifications;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

/// <summary>PostgreSQL killed and restarted under the registry, on a cluster of these tests' own.</summary>
public sealed class PostgresOutageTests : IAsyncLifetime
{
    private PostgresCluster _cluster = null!;
    private string _kekPath = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        // Without PostgreSQL's binaries this fails, naming where it looked: a test that can kill the server needs its own.
        _cluster = await PostgresCluster.StartNewAsync(cancellationToken: Ct);
        _kekPath = Path.Combine(Path.GetTempPath(), "vk-kek-outage-" + Guid.NewGuid().ToString("N"));
        KeyEncryptionKey.WriteNewFile(_kekPath);
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        if (_kekPath is not null)
        {
            File.Delete(_kekPath);
        }
    }

    [Fact]
    public async Task Killed_cluster_restarts_on_the_same_port_with_its_committed_data()
    {
        var port = _cluster.Port;
        await ExecuteAsync("CREATE TABLE survivors (x int); INSERT INTO survivors VALUES (42);");

        await _cluster.KillAsync(Ct);
        var whileDown = await Record.ExceptionAsync(() => ExecuteAsync("SELECT 1"));
        await _cluster.StartAsync(Ct);

        Assert.IsAssignableFrom<NpgsqlException>(whileDown);
        Assert.Equal(port, _cluster.Port);
        Assert.True(_cluster.IsRunning);
        Assert.Equal(42, await ScalarAsync("SELECT x FROM survivors"));
    }

    [Fact]
    public async Task Disposing_the_cluster_removes_its_directory()
    {
        var directory = _cluster.RootDirectory;

        await _cluster.DisposeAsync();

        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task Registry_reports_the_outage_clearly_and_works_again_after_restart()
    {
        await using var registry = await TestRegistry.CreateAsync(_cluster.GetConnectionString(), _kekPath);
        var listener = await RegistryChangeListener.StartAsync(registry.Database, Ct);
        var changes = listener.ReadAllAsync(Ct).GetAsyncEnumerator(Ct);

        await _cluster.KillAsync(Ct);
        var listenerError = await Record.ExceptionAsync(async () => await changes.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60), Ct));
        var upsertError = await Record.ExceptionAsync(() => registry.Registry.UpsertAsync(TestRegistry.NewKey(), Ct));
        await _cluster.StartAsync(Ct);
        var afterRestart = await registry.Registry.UpsertAsync(TestRegistry.NewKey(), Ct);
        await listener.DisposeAsync();

        var unavailable = Assert.IsType<RegistryUnavailableException>(upsertError);
        Assert.Equal(_cluster.Port, unavailable.Port);
        Assert.Contains($"127.0.0.1:{_cluster.Port}", unavailable.Message, StringComparison.Ordinal);
        Assert.IsType<RegistryUnavailableException>(listenerError);
        Assert.True(afterRestart.Changed);
    }

    [Fact]
    public async Task Usage_batches_on_the_prepared_pool_report_the_outage_and_are_prepared_again_after_restart()
    {
        await using var registry = await TestRegistry.CreateAsync(_cluster.GetConnectionString(), _kekPath);
        var keyId = "k" + Guid.NewGuid().ToString("N")[..12];
        var at = registry.Time.GetUtcNow();
        UsageEvent Served(int minute) => new(Guid.NewGuid().ToString(), keyId, at.AddMinutes(minute), "gpt-4o-mini", "openai", 10, 5, 0.001m);
        var before = new[] { await registry.Registry.RecordUsageAsync([Served(0)], Ct), await registry.Registry.RecordUsageAsync([Served(1)], Ct) };

        await _cluster.KillAsync(Ct);
        var whileDown = await Record.ExceptionAsync(() => registry.Registry.RecordUsageAsync([Served(2)], Ct));
        await _cluster.StartAsync(Ct);
        var after = new[] { await registry.Registry.RecordUsageAsync([Served(3)], Ct), await registry.Registry.RecordUsageAsync([Served(4)], Ct) };
        var totals = await registry.Registry.GetUsageAsync(keyId, BudgetPeriodKind.Daily, at, Ct);

        Assert.All(before.Concat(after), r => Assert.Equal(new UsageBatchResult(1, 0), r));
        var unavailable = Assert.IsType<RegistryUnavailableException>(whileDown);
        Assert.Equal(_cluster.Port, unavailable.Port);
        Assert.Equal(4, totals.Requests);
        Assert.True(registry.Registry.PreparesUsageBatches, "an outage is not a refused prepared statement");
    }

    private Task ExecuteAsync(string sql) => PostgresScalar.ExecuteAsync(_cluster.GetConnectionString() + ";Pooling=false", sql, Ct);

    private async Task<int> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_cluster.GetConnectionString() + ";Pooling=false");
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return (int)(await command.ExecuteScalarAsync(Ct))!;
    }
}
