using Microsoft.Extensions.Time.Testing;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Sidecar.Limits;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Sidecar.Tests.Limits;

/// <summary>
/// Several <see cref="SharedQuotaStore"/> replicas on one real PostgreSQL, on one fake clock: the
/// windows are exact minutes and a test does not wait for one to pass. Disposes every replica it made.
/// </summary>
public abstract class SharedQuotaTestBase(PostgresDatabase database) : IAsyncLifetime
{
    /// <summary>A Monday, 10:00:15 UTC: fifteen seconds into a minute window.</summary>
    protected static readonly DateTimeOffset Start = new(2026, 1, 5, 10, 0, 15, TimeSpan.Zero);

    private readonly List<SharedQuotaStore> _stores = [];

    protected static CancellationToken Cancel => TestContext.Current.CancellationToken;

    protected FakeTimeProvider Time { get; } = new(Start);

    protected RegistryDatabase Database { get; private set; } = null!;

    protected string ConnectionString => database.ConnectionString;

    /// <summary>The server, for what a test does around the registry as its superuser (roles).</summary>
    protected PostgresFixture Server => database.Server;

    public async ValueTask InitializeAsync()
    {
        Database = RegistryDatabase.Create(database.ConnectionString);
        await new RegistryMigrator(Database).MigrateAsync(Cancel);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        await Database.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected static string NewKeyId() => "k" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Asks <paramref name="condition"/> until it holds, for up to 30 s of real time.</summary>
    protected static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), deadline.Token);
            }
            catch (OperationCanceledException) when (!Cancel.IsCancellationRequested)
            {
                return false;
            }
        }

        return true;
    }

    protected SharedQuotaStore NewStore(QuotaLedger ledger, Action<QuotaOptions>? configure = null)
    {
        var options = new QuotaOptions { ReplicaId = "replica-" + Guid.NewGuid().ToString("N")[..8] };
        configure?.Invoke(options);
        var store = new SharedQuotaStore(ledger, options, Time);
        _stores.Add(store);
        return store;
    }
}
