using Npgsql;

namespace VirtualKeys.Testing.Postgres;

/// <summary>One value read straight from a test database, for assertions on what the registry stored.</summary>
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
}
