using Microsoft.Extensions.Time.Testing;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Protection;

namespace VirtualKeys.Registry.Tests;

/// <summary>A migrated registry on a test database, with its own KEK file and a fake clock.</summary>
internal sealed class TestRegistry : IAsyncDisposable
{
    private TestRegistry(string connectionString, string kekPath, RegistryDatabase database, CredentialProtector protector, FakeTimeProvider time)
    {
        ConnectionString = connectionString;
        KekPath = kekPath;
        Database = database;
        Protector = protector;
        Time = time;
        Registry = new VirtualKeyRegistry(database, protector, time);
    }

    public string ConnectionString { get; }

    public string KekPath { get; }

    public RegistryDatabase Database { get; }

    public CredentialProtector Protector { get; }

    public FakeTimeProvider Time { get; }

    public VirtualKeyRegistry Registry { get; }

    /// <summary>Opens a registry on a database with a KEK file both owned by the caller.</summary>
    public static async Task<TestRegistry> CreateAsync(string connectionString, string kekPath)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 6, 2, 9, 30, 0, TimeSpan.Zero));

        var database = RegistryDatabase.Create(connectionString);
        await new RegistryMigrator(database, time).MigrateAsync(TestContext.Current.CancellationToken);
        var protector = CredentialProtector.Create(database, kekPath);
        return new TestRegistry(connectionString, kekPath, database, protector, time);
    }

    /// <summary>A key in a namespace of its own, so tests sharing a database never see each other's keys.</summary>
    public static VirtualKeyUpsert NewKey(
        string? providerKey = null,
        string model = "gpt-4o-mini",
        VirtualKeyIdentity? identity = null)
    {
        identity ??= new VirtualKeyIdentity("ns-" + Guid.NewGuid().ToString("N")[..8], "chat", Guid.NewGuid().ToString());
        return new VirtualKeyUpsert(
            identity,
            Generation: 1,
            SpecFingerprint: "spec-1",
            new VirtualKeyConfig
            {
                DefaultModel = model,
                AllowedModels = [model, "gpt-4o"],
                ModelAliases = new Dictionary<string, string> { ["fast"] = model },
                Limits = new KeyLimits(RequestsPerMinute: 60, TokensPerMinute: 10_000),
                Budget = new KeyBudget(25.50m, Usage.BudgetPeriodKind.Monthly, 80),
                Providers = [new ProviderConfig("openai", ProviderType.OpenAI, "https://api.openai.example/v1", [model])],
            },
            [new ProviderCredential("openai", providerKey ?? "sk-test-" + Guid.NewGuid().ToString("N"))]);
    }

    public async ValueTask DisposeAsync()
    {
        Protector.Dispose();
        await Database.DisposeAsync();
    }
}
