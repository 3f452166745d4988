using Dapper;
using Npgsql;
using VirtualKeys.Cli.Commands;
using VirtualKeys.Cli.Tests.Support;
using VirtualKeys.Registry;
using VirtualKeys.Registry.Connections;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Migrations;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Cli.Tests.Commands;

/// <summary><c>vk registry rotate-keyring</c> and <c>replace-kek</c> against a real PostgreSQL registry.</summary>
public sealed class RegistryCommandTests(PostgresFixture server) : IClassFixture<PostgresFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("registry rotate-keyring", "vk registry rotate-keyring --reencrypt")]
    [InlineData("registry replace-kek", "vk registry replace-kek --new-kek-file kek-new --kek-file kek-old")]
    public async Task Each_registry_command_s_help_ends_with_examples(string command, string example)
    {
        using var elsewhere = new TemporaryDirectory();

        var result = await Vk.RunProcessAsync(elsewhere.Path, [.. command.Split(' '), "--help"]);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        var examples = result.Stdout.ReplaceLineEndings("\n").Split("Examples:\n");
        Assert.Equal(2, examples.Length);
        Assert.Contains("  " + example, examples[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replace_kek_re_seals_the_ring_so_only_the_new_KEK_opens_it_and_a_second_run_changes_nothing()
    {
        using var folder = new TemporaryDirectory();
        var (connectionString, oldKek) = await CreateRegistryAsync(folder, "cli_replace");
        var keyId = await WriteKeyAsync(connectionString, oldKek, "sk-cli-replace");
        var newKek = NewKekFile(folder, "new.kek");

        var first = await Vk.RunProcessAsync(folder.Path, "registry", "replace-kek", "--postgres", connectionString, "--kek-file", oldKek, "--new-kek-file", newKek);
        var second = await Vk.RunProcessAsync(folder.Path, "registry", "replace-kek", "--postgres", connectionString, "--kek-file", oldKek, "--new-kek-file", newKek);

        Assert.Equal((0, ""), (first.ExitCode, first.Stderr));
        Assert.Contains($"1 elements re-sealed from KEK {IdOf(oldKek)} to KEK {IdOf(newKek)}, 0 already were", first.Stdout, StringComparison.Ordinal);
        Assert.Contains("1 checked, 1 fingerprints re-computed", first.Stdout, StringComparison.Ordinal);
        Assert.Equal((0, ""), (second.ExitCode, second.Stderr));
        Assert.Contains("0 elements re-sealed", second.Stdout, StringComparison.Ordinal);
        Assert.Contains("Nothing was left under the old KEK", second.Stdout, StringComparison.Ordinal);
        Assert.Equal("sk-cli-replace", await ReadCredentialAsync(connectionString, newKek, keyId));
        await Assert.ThrowsAsync<RegistryProtectionException>(() => ReadCredentialAsync(connectionString, oldKek, keyId));
        AssertNoSecrets(folder, first.Stdout + first.Stderr, "sk-cli-replace");
    }

    [Fact]
    public async Task Replace_kek_with_an_old_KEK_that_is_not_the_registry_s_fails_on_stderr_and_changes_nothing()
    {
        using var folder = new TemporaryDirectory();
        var (connectionString, oldKek) = await CreateRegistryAsync(folder, "cli_wrong");
        var keyId = await WriteKeyAsync(connectionString, oldKek, "sk-cli-wrong");
        var stranger = NewKekFile(folder, "stranger.kek");
        var newKek = NewKekFile(folder, "new.kek");

        var result = await Vk.RunProcessAsync(folder.Path, "registry", "replace-kek", "--postgres", connectionString, "--kek-file", stranger, "--new-kek-file", newKek);

        Assert.Equal((1, ""), (result.ExitCode, result.Stdout));
        Assert.StartsWith("vk registry replace-kek: ", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(IdOf(oldKek), result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", result.Stderr, StringComparison.Ordinal);
        Assert.Single(result.Stderr.TrimEnd().Split('\n'));
        Assert.Equal("sk-cli-wrong", await ReadCredentialAsync(connectionString, oldKek, keyId));
        AssertNoSecrets(folder, result.Stderr, "sk-cli-wrong");
    }

    [Fact]
    public async Task Replace_kek_with_a_malformed_new_KEK_file_names_the_file()
    {
        using var folder = new TemporaryDirectory();
        var (connectionString, oldKek) = await CreateRegistryAsync(folder, "cli_malformed");
        var malformed = Path.Combine(folder.Path, "short.kek");
        await File.WriteAllTextAsync(malformed, "bm90LWEta2V5", Ct);

        var result = await Vk.InvokeAsync(RegistryCommand.Create(), "replace-kek", "--postgres", connectionString, "--kek-file", oldKek, "--new-kek-file", malformed);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(malformed, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("32 random bytes encoded as base64", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("bm90LWEta2V5", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rotate_keyring_with_reencrypt_moves_every_credential_to_the_new_ring_key()
    {
        using var folder = new TemporaryDirectory();
        var (connectionString, kek) = await CreateRegistryAsync(folder, "cli_rotate");
        var first = await WriteKeyAsync(connectionString, kek, "sk-cli-rotate-1");
        var second = await WriteKeyAsync(connectionString, kek, "sk-cli-rotate-2");
        var before = await ProtectingKeysAsync(connectionString);

        var result = await Vk.InvokeAsync(RegistryCommand.Create(), "rotate-keyring", "--postgres", connectionString, "--kek-file", kek, "--reencrypt");

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        var after = Assert.Single(await ProtectingKeysAsync(connectionString));
        Assert.DoesNotContain(after, before);
        Assert.Contains($"added Data Protection key {after}", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"2 re-protected with key {after}, 0 already were", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("sk-cli-rotate-1", await ReadCredentialAsync(connectionString, kek, first));
        Assert.Equal("sk-cli-rotate-2", await ReadCredentialAsync(connectionString, kek, second));
    }

    [Fact]
    public async Task Rotate_keyring_without_reencrypt_leaves_stored_credentials_under_their_key_and_readable()
    {
        using var folder = new TemporaryDirectory();
        var (connectionString, kek) = await CreateRegistryAsync(folder, "cli_rotate_keep");
        var keyId = await WriteKeyAsync(connectionString, kek, "sk-cli-kept");
        var before = await ProtectingKeysAsync(connectionString);

        var result = await Vk.RunProcessAsync(folder.Path, "registry", "rotate-keyring", "--postgres", connectionString, "--kek-file", kek);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        Assert.Contains("added Data Protection key", result.Stdout, StringComparison.Ordinal);
        Assert.Equal(before, await ProtectingKeysAsync(connectionString));
        Assert.Equal("sk-cli-kept", await ReadCredentialAsync(connectionString, kek, keyId));
    }

    [Fact]
    public async Task A_role_without_rights_on_the_registry_gets_one_line_naming_the_refusal()
    {
        using var folder = new TemporaryDirectory();
        var (connectionString, kek) = await CreateRegistryAsync(folder, "cli_norights");
        await using var role = await server.CreateRoleWithoutRightsAsync(connectionString, "cli_norights", Ct);

        var result = await Vk.InvokeAsync(RegistryCommand.Create(), "rotate-keyring", "--postgres", role.ConnectionString, "--kek-file", kek);

        Assert.Equal((1, ""), (result.ExitCode, result.Stdout));
        Assert.StartsWith("vk registry rotate-keyring: PostgreSQL refused: 42501: ", Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_connection_string_the_command_says_which_option_or_variable_to_set()
    {
        var result = await Vk.InvokeAsync(RegistryCommand.Create(), "rotate-keyring", "--kek-file", "/nonexistent/kek");

        Assert.Equal((1, ""), (result.ExitCode, result.Stdout));
        Assert.Equal("vk registry rotate-keyring: pass --postgres CONNSTR or set Registry__ConnectionString\n", result.Stderr.ReplaceLineEndings("\n"));
    }

    private static string NewKekFile(TemporaryDirectory folder, string name)
    {
        var path = Path.Combine(folder.Path, name);
        KeyEncryptionKey.WriteNewFile(path);
        return path;
    }

    private static string IdOf(string kekPath)
    {
        using var kek = KeyEncryptionKey.Load(kekPath);
        return kek.Id;
    }

    private async Task<(string ConnectionString, string KekPath)> CreateRegistryAsync(TemporaryDirectory folder, string hint)
    {
        var connectionString = await server.CreateDatabaseAsync(hint, Ct);
        await using var database = RegistryDatabase.Create(connectionString);
        await new RegistryMigrator(database).MigrateAsync(Ct);
        return (connectionString, NewKekFile(folder, "registry.kek"));
    }

    private static async Task<string> WriteKeyAsync(string connectionString, string kekPath, string providerKey)
    {
        await using var registry = await VirtualKeyRegistry.OpenAsync(connectionString, kekPath, timeProvider: null, loggerFactory: null, Ct);
        var identity = new VirtualKeyIdentity("ns-" + Guid.NewGuid().ToString("N")[..8], "chat", Guid.NewGuid().ToString());
        var upsert = new VirtualKeyUpsert(
            identity,
            Generation: 1,
            SpecFingerprint: "spec-1",
            new VirtualKeyConfig
            {
                DefaultModel = "gpt-4o-mini",
                AllowedModels = ["gpt-4o-mini"],
                Providers = [new ProviderConfig("openai", ProviderType.OpenAI, "https://api.openai.example/v1", ["gpt-4o-mini"])],
            },
            [new ProviderCredential("openai", providerKey)]);
        return (await registry.UpsertAsync(upsert, Ct)).KeyId;
    }

    private static async Task<string> ReadCredentialAsync(string connectionString, string kekPath, string keyId)
    {
        await using var registry = await VirtualKeyRegistry.OpenAsync(connectionString, kekPath, timeProvider: null, loggerFactory: null, Ct);
        return (await registry.GetByKeyIdAsync(keyId, includeCredentials: true, Ct))!.Credentials!["openai"].Secret;
    }

    private static async Task<List<Guid>> ProtectingKeysAsync(string connectionString)
    {
        await using var database = RegistryDatabase.Create(connectionString);
        await using var connection = await database.OpenConnectionAsync(Ct);
        var ciphertexts = await connection.QueryAsync<byte[]>(new CommandDefinition("SELECT ciphertext FROM vk.provider_credentials", cancellationToken: Ct));
        return [.. ciphertexts.Select(ciphertext => new Guid(ciphertext.AsSpan(4, 16))).Distinct().Order()];
    }

    private static void AssertNoSecrets(TemporaryDirectory folder, string output, string providerKey)
    {
        Assert.DoesNotContain(providerKey, output, StringComparison.Ordinal);
        foreach (var file in Directory.GetFiles(folder.Path, "*.kek"))
        {
            Assert.DoesNotContain(File.ReadAllText(file).Trim(), output, StringComparison.Ordinal);
        }
    }
}
