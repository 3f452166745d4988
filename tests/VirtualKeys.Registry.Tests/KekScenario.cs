using System.Xml.Linq;
using Dapper;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

/// <summary>
/// A registry database of its own (a KEK replacement changes the whole ring) and KEK files in a
/// temporary folder, opened as an operator or sidecar replica would be with any set of KEKs.
/// </summary>
internal sealed class KekScenario : IAsyncDisposable
{
    private readonly PostgresFixture _server;
    private readonly string _folder;

    private KekScenario(PostgresFixture server, string connectionString, RegistryDatabase database, string folder)
    {
        _server = server;
        ConnectionString = connectionString;
        Database = database;
        _folder = folder;
        OldKek = NewKekFile("old");
        NewKek = NewKekFile("new");
    }

    public string ConnectionString { get; }

    public RegistryDatabase Database { get; }

    /// <summary>The KEK the registry was created with.</summary>
    public string OldKek { get; }

    /// <summary>The KEK that replaces it.</summary>
    public string NewKek { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<KekScenario> CreateAsync(PostgresFixture server, string hint)
    {
        var connectionString = await server.CreateDatabaseAsync(hint, Ct);
        var database = RegistryDatabase.Create(connectionString);
        await new RegistryMigrator(database).MigrateAsync(Ct);
        return new KekScenario(server, connectionString, database, Directory.CreateTempSubdirectory("vk-kek-tests-").FullName);
    }

    public string NewKekFile(string name)
    {
        var path = Path.Combine(_folder, name + ".kek");
        KeyEncryptionKey.WriteNewFile(path);
        return path;
    }

    public static string IdOf(string kekPath)
    {
        using var kek = KeyEncryptionKey.Load(kekPath);
        return kek.Id;
    }

    /// <summary>A replica: <paramref name="kek"/> encrypts, <paramref name="previous"/> are accepted for reading.</summary>
    public Replica Open(string kek, params string[] previous) =>
        new(CredentialProtector.Create(Database, KeyEncryptionKeys.Load(kek, previous)), Database);

    public async Task<UpsertResult> WriteKeyAsync(Replica replica, string providerKey) =>
        await replica.Registry.UpsertAsync(TestRegistry.NewKey(providerKey: providerKey), Ct);

    public async Task<string> ReadCredentialAsync(Replica replica, string keyId) =>
        (await replica.Registry.GetByKeyIdAsync(keyId, includeCredentials: true, Ct))!.Credentials!["openai"].Secret;

    /// <summary>How many sealed ring elements each KEK id holds, as stored.</summary>
    public async Task<Dictionary<string, int>> ElementsByKekAsync()
    {
        await using var connection = await Database.OpenConnectionAsync(Ct);
        var xml = await connection.QueryAsync<string>(new CommandDefinition("SELECT xml FROM vk.data_protection_keys", cancellationToken: Ct));
        return xml
            .SelectMany(element => XElement.Parse(element).Descendants(XName.Get("encryptedElement", "urn:aigateway.dev:virtual-keys:kek")))
            .GroupBy(element => (string)element.Attribute("kekId")!)
            .ToDictionary(group => group.Key, group => group.Count());
    }

    public async Task<string> KekFileTextsAsync() =>
        string.Join('\n', await Task.WhenAll(Directory.GetFiles(_folder).Select(path => File.ReadAllTextAsync(path, Ct))));

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
        await _server.DropDatabaseAsync(ConnectionString);
    }

    internal sealed class Replica(CredentialProtector protector, RegistryDatabase database) : IDisposable
    {
        public CredentialProtector Protector => protector;

        public VirtualKeyRegistry Registry { get; } = new(database, protector);

        public void Dispose() => protector.Dispose();
    }
}
