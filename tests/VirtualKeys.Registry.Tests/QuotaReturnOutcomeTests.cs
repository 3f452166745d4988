using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

/// <summary>
/// What <see cref="QuotaLedger.ReturnAsync"/> says of a return whose round trip a <see cref="LossyPostgresProxy"/>
/// loses: the caller must tell a return that may have been applied from one that surely was not.
/// </summary>
public sealed class QuotaReturnOutcomeTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>, IAsyncLifetime
{
    private static readonly DateTimeOffset Monday = new(2026, 3, 2, 10, 15, 20, TimeSpan.Zero);
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(20);
    private RegistryDatabase _database = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _database = RegistryDatabase.Create(database.ConnectionString);
        await new RegistryMigrator(_database).MigrateAsync(Ct);
    }

    public ValueTask DisposeAsync() => _database.DisposeAsync();

    [Theory]
    [InlineData(true, 70L)]
    [InlineData(false, 100L)]
    public async Task A_return_whose_connection_breaks_after_it_went_out_is_of_unknown_outcome(bool delivered, long grantedAfter)
    {
        var key = "k" + Guid.NewGuid().ToString("N")[..12];
        await new QuotaLedger(_database).GrantAsync(new QuotaGrantRequest(key, "a", Monday) { Requests = new QuotaWindowAsk(600, 100) }, Ttl, Ct);
        await using var proxy = LossyPostgresProxy.Start(database.ConnectionString);
        await using var lossyDatabase = RegistryDatabase.Create(proxy.ConnectionString);
        var lossy = new QuotaLedger(lossyDatabase);

        var caught = proxy.LoseNextAsync("vk.quota_return_window", delivered);
        var returning = lossy.ReturnAsync(new QuotaReturn(key, "a", Monday) { Requests = 30 }, Ct);
        await caught.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        for (var attempt = 0; delivered && attempt < 600 && await GrantedAsync(key) != grantedAfter; attempt++)
        {
            await Task.Delay(50, Ct);
        }

        proxy.CutCaught();
        var error = await Assert.ThrowsAsync<QuotaOutcomeUnknownException>(() => returning);

        Assert.IsType<RegistryUnavailableException>(error.InnerException);
        Assert.Equal(grantedAfter, await GrantedAsync(key));
    }

    [Fact]
    public async Task A_return_cut_short_after_it_committed_is_of_unknown_outcome_when_the_cancellation_goes_unanswered()
    {
        var key = "k" + Guid.NewGuid().ToString("N")[..12];
        await new QuotaLedger(_database).GrantAsync(new QuotaGrantRequest(key, "a", Monday) { Requests = new QuotaWindowAsk(600, 100) }, Ttl, Ct);
        await using var proxy = LossyPostgresProxy.Start(database.ConnectionString);
        await using var lossyDatabase = RegistryDatabase.Create(proxy.ConnectionString);
        var lossy = new QuotaLedger(lossyDatabase);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        // The return commits and its answer is held back; the deadline then cancels it, too late:
        // PostgreSQL has nothing left to cancel and says nothing, and Npgsql gives up on the connection.
        var caught = proxy.LoseNextAsync("vk.quota_return_window", delivered: true);
        var returning = lossy.ReturnAsync(new QuotaReturn(key, "a", Monday) { Requests = 30 }, deadline.Token);
        await caught.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        for (var attempt = 0; attempt < 600 && await GrantedAsync(key) != 70; attempt++)
        {
            await Task.Delay(50, Ct);
        }

        await deadline.CancelAsync();
        var error = await Assert.ThrowsAsync<QuotaOutcomeUnknownException>(() => returning);

        Assert.IsAssignableFrom<OperationCanceledException>(error.InnerException);
        Assert.Equal(70, await GrantedAsync(key));
    }

    private Task<long> GrantedAsync(string key) =>
        PostgresScalar.ReadAsync<long>(
            database.ConnectionString,
            "SELECT granted FROM vk.quota_windows WHERE key_id = $1 AND dimension = 'requests' AND window_start = $2",
            Ct,
            key,
            QuotaLedger.WindowOf(Monday).UtcDateTime);
}
