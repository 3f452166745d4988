using Npgsql;

namespace VirtualKeys.Sidecar.Benchmarks;

/// <summary>
/// PostgreSQL's own counters for one database, read over a connection to another database (the
/// maintenance one) so that reading them adds nothing to what they count.
/// </summary>
internal sealed class PostgresStats(string maintenanceConnectionString, string database)
{
    /// <summary>Committed plus rolled-back transactions: every one took at least one round trip from a client.</summary>
    public Task<long> TransactionsAsync(CancellationToken cancellationToken) =>
        ScalarAsync("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = @database", cancellationToken);

    /// <summary>Top-level statements executed since the last reset (pg_stat_statements).</summary>
    public Task<long> StatementsAsync(CancellationToken cancellationToken) =>
        ScalarAsync(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = @database)",
            cancellationToken);

    /// <summary>
    /// Round trips since the last reset: statements, less the <c>BEGIN</c> and <c>DISCARD ALL</c> that
    /// Npgsql writes in the same packet as the command after them (a transaction's start, a pooled
    /// connection's reset), so they cost no wait of their own. A multi-statement batch would count once
    /// per statement: an upper bound, then.
    /// </summary>
    public Task<long> RoundTripsAsync(CancellationToken cancellationToken) =>
        ScalarAsync(
            """
            SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = @database)
              AND query NOT ILIKE 'BEGIN%' AND query NOT ILIKE 'DISCARD ALL%'
            """,
            cancellationToken);

    /// <summary>
    /// The part of <see cref="RoundTripsAsync"/> that records usage, so the rest is what admission itself
    /// costs: a usage batch is one statement (data-modifying CTEs over vk.usage_events and, since
    /// migration 0009, vk.usage_pending; no transaction block), and a fold of the pending usage into the
    /// totals another (<c>SELECT vk.usage_fold()</c>); registries before migration 0003 wrote two
    /// inserts and a COMMIT per batch, counted as three.
    /// </summary>
    public Task<long> UsageRoundTripsAsync(CancellationToken cancellationToken) =>
        ScalarAsync(
            """
            SELECT coalesce(sum(calls * CASE WHEN query ILIKE 'INSERT INTO vk.usage_events%' THEN 2 ELSE 1 END), 0)::bigint
            FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = @database)
              AND (query ILIKE 'INSERT INTO vk.usage%' OR query ILIKE 'WITH%INSERT INTO vk.usage_events%' OR query ILIKE 'SELECT vk.usage_fold()%')
            """,
            cancellationToken);

    /// <summary>The statements that ran most often, for the progress output (where the round trips go).</summary>
    /// <param name="withoutUsage">Leave out the usage recording's statements and the transaction bookkeeping, to see admission's own.</param>
    public async Task<IReadOnlyList<(long Calls, string Query)>> TopStatementsAsync(int count, bool withoutUsage, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(maintenanceConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            """
            SELECT calls, regexp_replace(query, '\s+', ' ', 'g') FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = @database)
              AND NOT (@withoutUsage AND (query ILIKE 'INSERT INTO vk.usage%' OR query ILIKE 'WITH%INSERT INTO vk.usage_events%' OR query ILIKE 'SELECT vk.usage_fold()%' OR query ILIKE 'BEGIN%' OR query ILIKE 'COMMIT%' OR query ILIKE 'DISCARD ALL%'))
            ORDER BY calls DESC LIMIT @count
            """,
            connection);
        command.Parameters.AddWithValue("database", database);
        command.Parameters.AddWithValue("count", count);
        command.Parameters.AddWithValue("withoutUsage", withoutUsage);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<(long, string)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add((reader.GetInt64(0), reader.GetString(1)));
        }

        return rows;
    }

    public async Task ResetStatementsAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(maintenanceConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT pg_stat_statements_reset()", connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<long> ScalarAsync(string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(maintenanceConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("database", database);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }
}
