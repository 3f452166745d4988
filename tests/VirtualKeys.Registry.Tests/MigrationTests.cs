using Npgsql;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

public sealed class MigrationTests(PostgresFixture server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Migrating_twice_applies_everything_once_then_nothing()
    {
        await using var database = RegistryDatabase.Create(await server.CreateDatabaseAsync("migrate_twice", Ct));
        var migrator = new RegistryMigrator(database);

        var first = await migrator.MigrateAsync(Ct);
        var second = await migrator.MigrateAsync(Ct);

        Assert.Equal(0, first.StartVersion);
        Assert.Equal(Enumerable.Range(1, RegistryMigrator.LatestVersion), first.Applied);
        Assert.Empty(second.Applied);
        Assert.Equal(RegistryMigrator.LatestVersion, second.Version);
        Assert.Equal(RegistryMigrator.LatestVersion, await CountAsync(database, "SELECT count(*) FROM vk.schema_version"));
    }

    [Fact]
    public async Task Runners_starting_together_on_a_fresh_database_all_succeed_and_apply_the_schema_once()
    {
        var connectionString = await server.CreateDatabaseAsync("migrate_concurrent", Ct);
        var databases = Enumerable.Range(0, 6).Select(_ => RegistryDatabase.Create(connectionString)).ToList();
        try
        {
            var results = await Task.WhenAll(databases.Select(d => Task.Run(() => new RegistryMigrator(d).MigrateAsync(Ct), Ct)));

            Assert.All(results, r => Assert.Equal(RegistryMigrator.LatestVersion, r.Version));
            Assert.Single(results, r => r.Applied.Count > 0);
            Assert.Equal(RegistryMigrator.LatestVersion, await CountAsync(databases[0], "SELECT count(*) FROM vk.schema_version"));
            Assert.Equal(1, await CountAsync(databases[0], "SELECT count(*) FROM vk.registry_state"));
        }
        finally
        {
            foreach (var database in databases)
            {
                await database.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_schema_newer_than_the_binary_fails_start_up_with_one_clear_message()
    {
        await using var database = RegistryDatabase.Create(await server.CreateDatabaseAsync("migrate_newer", Ct));
        await new RegistryMigrator(database).MigrateAsync(Ct);
        var future = RegistryMigrator.LatestVersion + 1;
        await ExecuteAsync(database, $"INSERT INTO vk.schema_version VALUES ({future}, 'from_the_future', 'x', now())");

        var error = await Assert.ThrowsAsync<RegistrySchemaException>(() => new RegistryMigrator(database).MigrateAsync(Ct));

        Assert.Equal(future, error.DatabaseVersion);
        Assert.Equal(RegistryMigrator.LatestVersion, error.KnownVersion);
        Assert.Contains($"is at version {future}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"up to {RegistryMigrator.LatestVersion}", error.Message, StringComparison.Ordinal);
        Assert.Contains(database.Host, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task An_applied_migration_that_was_edited_afterwards_is_refused()
    {
        await using var database = RegistryDatabase.Create(await server.CreateDatabaseAsync("migrate_edited", Ct));
        await new RegistryMigrator(database).MigrateAsync(Ct);
        await ExecuteAsync(database, "UPDATE vk.schema_version SET checksum = 'edited' WHERE version = 1");

        var error = await Assert.ThrowsAsync<RegistrySchemaException>(() => new RegistryMigrator(database).MigrateAsync(Ct));

        Assert.Contains("migration 1 (initial)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Opening_the_registry_on_a_fresh_database_migrates_it_and_serves_keys()
    {
        var connectionString = await server.CreateDatabaseAsync("open", Ct);
        var kekPath = Path.Combine(Path.GetTempPath(), "vk-kek-open-" + Guid.NewGuid().ToString("N"));
        KeyEncryptionKey.WriteNewFile(kekPath);
        try
        {
            await using var registry = await VirtualKeyRegistry.OpenAsync(connectionString, kekPath, timeProvider: null, loggerFactory: null, Ct);
            var upsert = TestRegistry.NewKey(providerKey: "sk-opened");

            var result = await registry.UpsertAsync(upsert, Ct);
            var stored = await registry.GetByKeyIdAsync(result.KeyId, includeCredentials: true, Ct);

            Assert.Equal("sk-opened", stored!.Credentials!["openai"].Secret);
        }
        finally
        {
            File.Delete(kekPath);
        }
    }

    private static async Task<long> CountAsync(RegistryDatabase database, string sql)
    {
        await using var connection = await database.OpenConnectionAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    private static async Task ExecuteAsync(RegistryDatabase database, string sql)
    {
        await using var connection = await database.OpenConnectionAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }
}
