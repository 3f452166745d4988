using Npgsql;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

/// <summary>
/// A server that answers but refuses the session (no such role, no such database): the registry cannot
/// be used, and the caller hears so in the one line it hears of an unreachable server, not as an
/// exception from the driver (which a sidecar or operator would not catch, and die of).
/// </summary>
public sealed class SessionRefusalTests(PostgresFixture server)
{
    private const string Password = "hunter2-do-not-print";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("Username=vk_no_such_role", "28000", "role \"vk_no_such_role\" does not exist")]
    [InlineData("Database=vk_no_such_database", "3D000", "database \"vk_no_such_database\" does not exist")]
    public async Task A_refused_session_is_reported_as_the_registry_unavailable_naming_host_port_and_the_reason(string setting, string sqlState, string reason)
    {
        var builder = new NpgsqlConnectionStringBuilder(server.AdminConnectionString) { Password = Password };
        var (name, value) = (setting.Split('=')[0], setting.Split('=')[1]);
        builder[name] = value;
        await using var database = RegistryDatabase.Create(builder.ConnectionString);

        var error = await Assert.ThrowsAsync<RegistryUnavailableException>(() => new RegistryMigrator(database).MigrateAsync(Ct));

        Assert.Equal((builder.Host, builder.Port), (error.Host, error.Port));
        Assert.Equal($"The registry database at {builder.Host}:{builder.Port} is unavailable: the server refused the session ({sqlState}: {reason}).", error.Message);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
        Assert.True(error.ConnectionStringUsable, "a refused session is waited out at start");
    }

    // A standby answering for the primary (a failover under way, the name not yet moved): every write is
    // refused as read-only. The registry cannot be used until the name points at the promoted server, like
    // any outage; the caller is told what the server is, not handed the driver's exception.
    [Fact]
    public async Task A_read_only_server_is_reported_as_the_registry_unavailable_naming_the_standby()
    {
        var connectionString = await server.CreateDatabaseAsync("readonly", Ct);
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c default_transaction_read_only=on" };
            await using var database = RegistryDatabase.Create(builder.ConnectionString);

            var error = await Assert.ThrowsAsync<RegistryUnavailableException>(() => new RegistryMigrator(database).MigrateAsync(Ct));

            Assert.StartsWith(
                $"The registry database at {builder.Host}:{builder.Port} is unavailable: the server is read-only, a standby (is a failover under way?) (25006: ",
                error.Message,
                StringComparison.Ordinal);
            Assert.True(error.ConnectionStringUsable);
        }
        finally
        {
            await server.DropDatabaseAsync(connectionString, CancellationToken.None);
        }
    }
}
