using Npgsql;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Quotas;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

/// <summary>
/// Migration 0011 on a registry written by the release before it: keys given a budget within the
/// last day are marked, so their first grant after the upgrade reads all of their usage, the
/// stamped events that release wrote for them while they had no budget included.
/// </summary>
public sealed class BudgetBackfillMigrationTests(PostgresFixture server)
{
    private const int VersionBefore = 10;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Upgrading_marks_keys_given_a_budget_in_the_last_day_and_their_first_grant_charges_their_earlier_spend()
    {
        var connectionString = await server.CreateDatabaseAsync("budget_backfill", Ct);
        var now = DateTimeOffset.UtcNow;
        await using var database = RegistryDatabase.Create(connectionString);
        var migrator = new RegistryMigrator(database);
        var before = await migrator.MigrateAsync(VersionBefore, Ct);
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync(Ct);
            await InsertKeyAsync(connection, "recent", "active", budget: true, updatedAt: now.AddHours(-1));
            await InsertKeyAsync(connection, "old", "active", budget: true, updatedAt: now.AddDays(-2));
            await InsertKeyAsync(connection, "none", "active", budget: false, updatedAt: now.AddHours(-1));
            await InsertKeyAsync(connection, "gone", "tombstoned", budget: true, updatedAt: now.AddHours(-1));

            // What the release before wrote for "recent" while it had no budget: 0.9 USD of events
            // stamped with their transaction, no pending rows, not folded yet.
            await new NpgsqlCommand(
                """
                INSERT INTO vk.usage_events (request_id, key_id, occurred_at, model, provider, input_tokens, output_tokens, cost_usd, rejection, recorded_at, request_count, fold_xid)
                SELECT 'before-upgrade-' || n, 'recent', $1, 'gpt-4o-mini', 'openai', 10, 5, 0.3, NULL, $1, 1, vk.usage_fold_stamp()
                FROM generate_series(1, 3) AS n
                """,
                connection)
            {
                Parameters = { new NpgsqlParameter<DateTime> { TypedValue = now.UtcDateTime } },
            }.ExecuteNonQueryAsync(Ct);
        }

        var upgrade = await migrator.MigrateAsync(Ct);
        var marked = await PostgresScalar.ReadAsync<string[]>(
            connectionString, "SELECT coalesce(array_agg(key_id ORDER BY key_id), '{}') FROM vk.virtual_keys WHERE budget_since IS NOT NULL", Ct);
        var grant = await new QuotaLedger(database).GrantAsync(
            new QuotaGrantRequest("recent", "replica-a", now) { Budget = new QuotaBudgetAsk(BudgetPeriodKind.Daily, Cap: 1m, Want: 0.5m) },
            TimeSpan.FromSeconds(20),
            Ct);

        Assert.Equal(Enumerable.Range(1, VersionBefore), before.Applied);
        Assert.Equal(Enumerable.Range(VersionBefore + 1, RegistryMigrator.LatestVersion - VersionBefore), upgrade.Applied);
        Assert.Equal(["recent"], marked);
        Assert.Equal(0.1m, grant.BudgetUsd);
    }

    private static Task InsertKeyAsync(NpgsqlConnection connection, string keyId, string state, bool budget, DateTimeOffset updatedAt) =>
        new NpgsqlCommand(
            """
            INSERT INTO vk.virtual_keys (namespace, name, uid, key_id, generation, state, spec_fingerprint, config, change_version, created_at, updated_at, tombstoned_at)
            VALUES ('team', $1, $1 || '-uid', $1, 1, $2, 'fp', $3::jsonb, 1, $4 - interval '30 days', $4, CASE WHEN $2 = 'tombstoned' THEN $4 END)
            """,
            connection)
        {
            Parameters =
            {
                new NpgsqlParameter<string> { TypedValue = keyId },
                new NpgsqlParameter<string> { TypedValue = state },
                new NpgsqlParameter<string> { TypedValue = budget ? """{"budget": {"maxCostUsd": 1, "period": "Daily"}}""" : "{}" },
                new NpgsqlParameter<DateTime> { TypedValue = updatedAt.UtcDateTime },
            },
        }.ExecuteNonQueryAsync(Ct);
}
