namespace VirtualKeys.Testing.Postgres;

/// <summary>
/// A login role that has only what PUBLIC has (it may connect, not create the registry's schema or read
/// its tables), made by <see cref="PostgresFixture.CreateRoleWithoutRightsAsync"/>; disposing drops it.
/// </summary>
public sealed class RoleWithoutRights(PostgresFixture server, string name, string connectionString) : IAsyncDisposable
{
    public string Name { get; } = name;

    /// <summary>The database's connection string, logged in as this role.</summary>
    public string ConnectionString { get; } = connectionString;

    public async ValueTask DisposeAsync() =>
        await server.ExecuteAsync($"DROP OWNED BY {Name}; DROP ROLE IF EXISTS {Name}", CancellationToken.None);
}
