using Npgsql;

namespace VirtualKeys.Operator.Benchmarks;

/// <summary>
/// Row writes and commits in the registry database, from PostgreSQL's own statistics. A backend
/// publishes its counts when it goes idle, at most 10 s late (PostgreSQL 15), so a reading taken
/// <see cref="FlushDelay"/> after the last write includes it.
/// </summary>
internal static class PostgresWrites
{
    public static readonly TimeSpan FlushDelay = TimeSpan.FromSeconds(11);

    /// <summary>Rows inserted, updated and deleted in all user tables, and transactions committed, so far.</summary>
    public static async Task<(long Rows, long Commits)> ReadAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            """
            SELECT (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_user_tables),
                   (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())
            """,
            connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>The registry's other sessions now: how many run a statement, and how many of those wait for a lock another transaction holds.</summary>
    public static async Task<(int Active, int WaitingOnLock)> SessionsAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            """
            SELECT count(*) FILTER (WHERE state = 'active')::int, count(*) FILTER (WHERE wait_event_type = 'Lock')::int
            FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
            """,
            connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt32(0), reader.GetInt32(1));
    }
}
