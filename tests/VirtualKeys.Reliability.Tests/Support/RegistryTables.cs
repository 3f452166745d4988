using System.Globalization;
using System.Text;
using Npgsql;

namespace VirtualKeys.Reliability.Tests.Support;

/// <summary>The registry's tables as text, for the secret ledger: every row of every table of the <c>vk</c> schema.</summary>
internal static class RegistryTables
{
    /// <summary>
    /// Hands each table to the ledger. <c>bytea</c> columns are decoded as UTF-8, so a secret stored in
    /// one unencrypted would show as itself (the ledger also searches hex and base64 forms).
    /// </summary>
    public static async Task ObserveAsync(string connectionString, string source, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = 'vk' ORDER BY table_name", connection))
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                tables.Add(reader.GetString(0));
            }
        }

        foreach (var table in tables)
        {
            var dump = new StringBuilder();
            await using var select = new NpgsqlCommand($"SELECT * FROM vk.\"{table}\"", connection);
            await using var rows = await select.ExecuteReaderAsync(cancellationToken);
            while (await rows.ReadAsync(cancellationToken))
            {
                for (var i = 0; i < rows.FieldCount; i++)
                {
                    var value = rows.IsDBNull(i) ? "" : rows.GetValue(i);
                    dump.Append(value is byte[] bytes ? Encoding.UTF8.GetString(bytes) : Convert.ToString(value, CultureInfo.InvariantCulture)).Append('\t');
                }

                dump.Append('\n');
            }

            SecretLedger.Observe($"{source}: registry table vk.{table}", dump.ToString());
        }
    }
}
