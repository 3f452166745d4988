using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Sidecar.Tests.Registry;

/// <summary>A fresh database and its KEK file for one test class: the key ring is bound to the first KEK that opens it.</summary>
public sealed class SidecarRegistryFixture(PostgresFixture server) : IAsyncLifetime
{
    private string? _connectionString;

    public string ConnectionString => _connectionString ?? throw new InvalidOperationException("Not initialized.");

    public string KekPath { get; } = Path.Combine(Path.GetTempPath(), "vk-kek-sidecar-" + Guid.NewGuid().ToString("N"));

    public async ValueTask InitializeAsync()
    {
        _connectionString = await server.CreateDatabaseAsync("sidecar", TestContext.Current.CancellationToken);
        KeyEncryptionKey.WriteNewFile(KekPath);
    }

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
