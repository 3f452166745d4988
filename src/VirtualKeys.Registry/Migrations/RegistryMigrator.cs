using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtualKeys.Registry.Connections;

namespace VirtualKeys.Registry.Migrations;

/// <summary>
/// Brings the registry schema (<c>vk</c>) up to the version this binary carries, at start-up.
/// </summary>
/// <remarks>
/// Everything runs in one transaction under a transaction-scoped advisory lock: processes that start
/// together queue on the lock, the first applies the migrations, the others find them applied.
/// A process that dies mid-way leaves nothing behind, because DDL is transactional in PostgreSQL.
/// </remarks>
public sealed partial class RegistryMigrator
{
    /// <summary>An arbitrary constant shared by every binary version: "vkmigrat" in ASCII.</summary>
    private const long AdvisoryLockKey = 0x766b_6d69_6772_6174;

    private static readonly Lazy<IReadOnlyList<Migration>> Embedded = new(Migration.LoadEmbedded);

    private readonly RegistryDatabase _database;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    public RegistryMigrator(RegistryDatabase database, TimeProvider? timeProvider = null, ILogger<RegistryMigrator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<RegistryMigrator>.Instance;
    }

    /// <summary>The newest schema version this binary knows.</summary>
    public static int LatestVersion => Embedded.Value[^1].Version;

    /// <exception cref="RegistrySchemaException">The database is newer than this binary, or was migrated by a different script.</exception>
    /// <exception cref="RegistryUnavailableException">PostgreSQL cannot be reached.</exception>
    public Task<MigrationResult> MigrateAsync(CancellationToken cancellationToken) =>
        MigrateAsync(LatestVersion, cancellationToken);

    /// <summary>Applies the migrations up to <paramref name="targetVersion"/> only, as the release that ended there did (for tests of upgrades).</summary>
    internal Task<MigrationResult> MigrateAsync(int targetVersion, CancellationToken cancellationToken) =>
        _database.RunAsync((connection, ct) => MigrateAsync(connection, targetVersion, ct), cancellationToken);

    private async Task<MigrationResult> MigrateAsync(Npgsql.NpgsqlConnection connection, int targetVersion, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var locked = await connection.ExecuteScalarAsync<bool>(
            new CommandDefinition("SELECT pg_try_advisory_xact_lock(@key)", new { key = AdvisoryLockKey }, transaction, cancellationToken: cancellationToken));
        if (!locked)
        {
            Log.WaitingForLock(_logger, _database.Endpoint);
            await connection.ExecuteAsync(
                new CommandDefinition("SELECT pg_advisory_xact_lock(@key)", new { key = AdvisoryLockKey }, transaction, cancellationToken: cancellationToken));
        }

        await connection.ExecuteAsync(
            new CommandDefinition(
                """
                CREATE SCHEMA IF NOT EXISTS vk;
                CREATE TABLE IF NOT EXISTS vk.schema_version (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL
                );
                """,
                transaction: transaction,
                cancellationToken: cancellationToken));

        var applied = (await connection.QueryAsync<AppliedRow>(
            new CommandDefinition(
                "SELECT version AS Version, name AS Name, checksum AS Checksum FROM vk.schema_version ORDER BY version",
                transaction: transaction,
                cancellationToken: cancellationToken))).ToList();

        var known = Embedded.Value;
        var startVersion = applied.Count == 0 ? 0 : applied[^1].Version;
        if (startVersion > LatestVersion)
        {
            throw new RegistrySchemaException(
                $"The registry schema in {_database.Endpoint} is at version {startVersion}, but this binary knows migrations up to {LatestVersion} only: run a newer release (or point it at another database).",
                startVersion,
                LatestVersion);
        }

        foreach (var row in applied)
        {
            var migration = known[row.Version - 1];
            if (migration.Checksum != row.Checksum)
            {
                throw new RegistrySchemaException(
                    $"Registry migration {row.Version} ({row.Name}) in {_database.Endpoint} differs from the one this binary carries: a shipped migration was edited; add a new migration instead.",
                    startVersion,
                    LatestVersion);
            }
        }

        var newlyApplied = new List<int>();
        foreach (var migration in known.Where(m => m.Version > startVersion && m.Version <= targetVersion))
        {
            // No command timeout: a migration that rewrites or indexes a large table (0009 builds an
            // index over every usage event) must not be cut off halfway and retried forever.
            await connection.ExecuteAsync(new CommandDefinition(migration.Sql, transaction: transaction, commandTimeout: 0, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(
                new CommandDefinition(
                    "INSERT INTO vk.schema_version (version, name, checksum, applied_at) VALUES (@Version, @Name, @Checksum, @AppliedAt)",
                    new { migration.Version, migration.Name, migration.Checksum, AppliedAt = _timeProvider.GetUtcNow() },
                    transaction,
                    cancellationToken: cancellationToken));
            newlyApplied.Add(migration.Version);
            Log.Applied(_logger, migration.Version, migration.Name, _database.Endpoint);
        }

        await transaction.CommitAsync(cancellationToken);
        return new MigrationResult(startVersion, Math.Max(startVersion, Math.Min(targetVersion, LatestVersion)), newlyApplied);
    }

    private sealed record AppliedRow(int Version, string Name, string Checksum);

    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Information, "Waiting for another process migrating the registry schema in {Endpoint}")]
        public static partial void WaitingForLock(ILogger logger, string endpoint);

        [LoggerMessage(1002, LogLevel.Information, "Applied registry migration {Version} ({Name}) to {Endpoint}")]
        public static partial void Applied(ILogger logger, int version, string name, string endpoint);
    }
}
