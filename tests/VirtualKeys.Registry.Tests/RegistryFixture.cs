using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

/// <summary>A database and a KEK file for one test class: every test instance opens the same registry.</summary>
public sealed class RegistryFixture(PostgresFixture server) : IAsyncLifetime
{
    private string? _connectionString;

    public PostgresFixture Server => server;

    public string ConnectionString => _connectionString ?? throw new InvalidOperationException("Not initialized.");

    public string KekPath { get; } = Path.Combine(Path.GetTempPath(), "vk-kek-" + Guid.NewGuid().ToString("N"));

    public async ValueTask InitializeAsync()
    {
        _connectionString = await server.CreateDatabaseAsync("registry", TestContext.Current.CancellationToken);
        KeyEncryptionKey.WriteNewFile(KekPath);
    }

    internal Task<TestRegistry> OpenAsync() => TestRegistry.CreateAsync(ConnectionString, KekPath);

    /// <summary>One value read straight from the database; <paramref name="values"/> are the positional parameters $1, $2, ...</summary>
    internal Task<T> ScalarAsync<T>(string sql, params object[] values) =>
        PostgresScalar.ReadAsync<T>(ConnectionString, sql, TestContext.Current.CancellationToken, values);

    public async ValueTask DisposeAsync()
    {
        File.Delete(KekPath);
        if (_connectionString is not null)
        {
            await server.DropDatabaseAsync(_connectionString);
        }
    }
}
