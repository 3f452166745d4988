using System.Collections.Concurrent;
using System.Security.Cryptography;
using Npgsql;
using Xunit;

namespace VirtualKeys.Testing.Postgres;

/// <summary>
/// One PostgreSQL server for a whole test assembly: the server named by <c>VK_TEST_POSTGRES</c>
/// (a connection string to a server you own, with the right to create databases) when that is set,
/// else one throwaway <see cref="PostgresCluster"/> started here and removed at the end.
/// </summary>
/// <remarks>
/// <para>Use it from another test project in three steps:</para>
/// <code>
/// // once per test assembly, e.g. in AssemblyInfo.cs:
/// [assembly: AssemblyFixture(typeof(PostgresFixture))]
///
/// // per test class: a fresh, empty database of its own
/// public sealed class MyTests(PostgresDatabase database) : IClassFixture&lt;PostgresDatabase&gt;
/// {
///     [Fact]
///     public async Task Something() { await using var c = new NpgsqlConnection(database.ConnectionString); ... }
/// }
///
/// // or, inside a test that needs a database nobody else touched:
/// var connectionString = await fixture.CreateDatabaseAsync("migrations", TestContext.Current.CancellationToken);
/// </code>
/// <para>
/// Tests that kill or restart PostgreSQL must not do it to this shared server: they start their own
/// with <see cref="PostgresCluster.StartNewAsync"/> and dispose it.
/// </para>
/// </remarks>
public sealed class PostgresFixture : IAsyncLifetime
{
    /// <summary>The environment variable that points the tests at an existing server.</summary>
    public const string ServerVariable = "VK_TEST_POSTGRES";

    private readonly ConcurrentDictionary<string, byte> _databases = new();
    private string? _adminConnectionString;

    /// <summary>The cluster started for this run; null when <c>VK_TEST_POSTGRES</c> names the server.</summary>
    public PostgresCluster? Cluster { get; private set; }

    /// <summary>A superuser (or CREATEDB) connection string to the server's maintenance database.</summary>
    public string AdminConnectionString =>
        _adminConnectionString ?? throw new InvalidOperationException("PostgresFixture is not initialized.");

    public async ValueTask InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable(ServerVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            _adminConnectionString = external;
        }
        else
        {
            try
            {
                Cluster = await PostgresCluster.StartNewAsync(cancellationToken: TestContext.Current.CancellationToken);
            }
            catch (PostgresBinariesNotFoundException ex)
            {
                throw new InvalidOperationException($"{ex.Message}, or set {ServerVariable} to a server you own", ex);
            }

            _adminConnectionString = Cluster.GetConnectionString();
        }

        await using var connection = new NpgsqlConnection(_adminConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>Creates an empty database with a unique name and returns a connection string to it.</summary>
    /// <param name="hint">A readable part of the name, to find the database while debugging.</param>
    public async Task<string> CreateDatabaseAsync(string hint = "test", CancellationToken cancellationToken = default)
    {
        var safeHint = new string(hint.ToLowerInvariant().Where(c => c is >= 'a' and <= 'z' or >= '0' and <= '9').Take(30).ToArray());
        var name = $"vk_{safeHint}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5))}";
        await ExecuteAsync($"CREATE DATABASE \"{name}\"", cancellationToken);
        _databases.TryAdd(name, 0);
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>A new login role with no rights of its own, and <paramref name="connectionString"/> as that role.</summary>
    /// <param name="hint">A readable part of the role's name.</param>
    public async Task<RoleWithoutRights> CreateRoleWithoutRightsAsync(string connectionString, string hint, CancellationToken cancellationToken = default)
    {
        var name = $"vk_{hint}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        await ExecuteAsync($"CREATE ROLE {name} LOGIN", cancellationToken);
        return new RoleWithoutRights(this, name, new NpgsqlConnectionStringBuilder(connectionString) { Username = name }.ConnectionString);
    }

    /// <summary>Runs one statement as the server's superuser (roles, databases: what a test sets up around the registry).</summary>
    public async Task ExecuteAsync(string sql, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Drops a database made by <see cref="CreateDatabaseAsync"/>, ending its sessions.</summary>
    public async Task DropDatabaseAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        if (name is null || !_databases.TryRemove(name, out _))
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
            return;
        }

        if (_adminConnectionString is not null)
        {
            // Someone else's server: leave it as it was found.
            foreach (var name in _databases.Keys)
            {
                await DropDatabaseAsync(new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = name }.ConnectionString);
            }
        }
    }
}
