using Npgsql;

namespace VirtualKeys.Testing.Postgres;

/// <summary>
/// Statements run straight on a test database: one value read for assertions on what the registry
/// stored, or a statement that sets the stage (roles, locks, rows) beside the registry.
/// </summary>
public static class PostgresScalar
{
    /// <param name="values">The positional parameters $1, $2, ...</param>
    public static async Task<T> ReadAsync<T>(string connectionString, string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Runs <paramref name="sql"/> (one or more statements without parameters) on a connection of its own.</summary>
    public static async Task ExecuteAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
