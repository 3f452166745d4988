using Xunit;

namespace VirtualKeys.Testing.Postgres;

/// <summary>
/// A class fixture: a fresh database on the assembly's <see cref="PostgresFixture"/> for one test class,
/// dropped after the class's last test. Tests of one class share it, so each test uses names of its own.
/// </summary>
public sealed class PostgresDatabase(PostgresFixture server) : IAsyncLifetime
{
    private string? _connectionString;

    public PostgresFixture Server => server;

    public string ConnectionString =>
        _connectionString ?? throw new InvalidOperationException("PostgresDatabase is not initialized.");

    public async ValueTask InitializeAsync() =>
        _connectionString = await server.CreateDatabaseAsync("class", TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_connectionString is not null)
        {
            await server.DropDatabaseAsync(_connectionString);
        }
    }
}
