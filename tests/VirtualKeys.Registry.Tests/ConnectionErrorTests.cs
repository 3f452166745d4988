using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Testing;

namespace VirtualKeys.Registry.Tests;

public sealed class ConnectionErrorTests
{
    private const string Password = "hunter2-do-not-print";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Malformed_connection_string_names_host_and_port_but_not_the_password()
    {
        var error = Assert.Throws<RegistryUnavailableException>(
            () => RegistryDatabase.Create($"Host=db.internal;Port=6543;Password={Password};Frobnicate=yes"));

        Assert.Equal("db.internal", error.Host);
        Assert.Equal(6543, error.Port);
        Assert.Contains("host db.internal, port 6543", error.Message, StringComparison.Ordinal);
        Assert.Contains("malformed", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.False(error.ConnectionStringUsable, "no wait mends a malformed connection string");
    }

    [Fact]
    public void Connection_string_with_a_port_that_is_not_a_number_is_reported_as_malformed()
    {
        var error = Assert.Throws<RegistryUnavailableException>(
            () => RegistryDatabase.Create($"Host=db.internal;Port=five;Password={Password}"));

        Assert.Equal("db.internal", error.Host);
        Assert.Contains("malformed", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_server_gives_one_line_naming_host_and_port()
    {
        var port = LoopbackPorts.Free();
        await using var database = RegistryDatabase.Create($"Host=127.0.0.1;Port={port};Username=vk;Password={Password};Timeout=5");

        var error = await Assert.ThrowsAsync<RegistryUnavailableException>(() => new RegistryMigrator(database).MigrateAsync(Ct));

        Assert.Equal("127.0.0.1", error.Host);
        Assert.Equal(port, error.Port);
        Assert.Equal($"The registry database at 127.0.0.1:{port} is unavailable: connection refused (is PostgreSQL running and listening there?).", error.Message);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
        Assert.True(error.ConnectionStringUsable, "a server that does not answer yet is waited out at start");
    }
}
