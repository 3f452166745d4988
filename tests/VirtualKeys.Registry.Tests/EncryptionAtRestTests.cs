using System.Text;
using System.Xml.Linq;
using Npgsql;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;

namespace VirtualKeys.Registry.Tests;

public sealed class EncryptionAtRestTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>, IAsyncLifetime
{
    private TestRegistry _registry = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _registry = await fixture.OpenAsync();

    public ValueTask DisposeAsync() => _registry.DisposeAsync();

    [Fact]
    public async Task No_table_holds_a_raw_provider_key_or_token_in_any_encoding()
    {
        var secrets = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var upsert = TestRegistry.NewKey(providerKey: $"sk-live-{i}-{Guid.NewGuid():N}");
            var keyId = VirtualKeyId.FromUid(upsert.Identity.Uid);
            var token = VirtualKeyToken.Generate(keyId);
            var rotated = VirtualKeyToken.Generate(keyId);
            await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([token]) }, Ct);
            await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([rotated], _registry.Time.GetUtcNow().AddHours(1)) }, Ct);
            await _registry.Registry.RecordUsageAsync([new UsageEvent(Guid.NewGuid().ToString(), keyId, _registry.Time.GetUtcNow(), "gpt-4o-mini", "openai", 10, 20, 0.01m)], Ct);
            secrets.AddRange([upsert.Credentials[0].Secret, token.Reveal(), rotated.Reveal()]);
        }

        var dump = await DumpSchemaAsync();

        Assert.Contains("virtual_keys", dump.Keys);
        Assert.Contains("data_protection_keys", dump.Keys);
        var everything = string.Join('\n', dump.Values);
        foreach (var secret in secrets)
        {
            var bytes = Encoding.UTF8.GetBytes(secret);
            Assert.DoesNotContain(secret, everything, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToHexStringLower(bytes), everything, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(bytes), everything, StringComparison.Ordinal);
            Assert.DoesNotContain(secret[^20..], everything, StringComparison.Ordinal);
        }

        // The key ring's own master keys are encrypted under the KEK, not stored as Data Protection writes them.
        Assert.DoesNotContain("masterKey", dump["data_protection_keys"], StringComparison.Ordinal);
        Assert.Contains("urn:aigateway.dev:virtual-keys:kek", dump["data_protection_keys"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Credentials_protected_before_a_key_ring_rotation_still_decrypt_after_it()
    {
        var before = TestRegistry.NewKey(providerKey: "sk-before-rotation");
        var beforeResult = await _registry.Registry.UpsertAsync(before, Ct);
        var oldKeys = _registry.Protector.KeyIds;

        var newKey = _registry.Protector.RotateKey();
        var after = TestRegistry.NewKey(providerKey: "sk-after-rotation");
        var afterResult = await _registry.Registry.UpsertAsync(after, Ct);
        await using var reopened = await fixture.OpenAsync();

        Assert.DoesNotContain(newKey, oldKeys);
        Assert.Contains(newKey, _registry.Protector.KeyIds);
        Assert.Equal(newKey, await ProtectingKeyAsync(afterResult.KeyId));
        Assert.NotEqual(newKey, await ProtectingKeyAsync(beforeResult.KeyId));
        Assert.Equal("sk-before-rotation", (await reopened.Registry.GetByKeyIdAsync(beforeResult.KeyId, includeCredentials: true, Ct))!.Credentials!["openai"].Secret);
        Assert.Equal("sk-after-rotation", (await reopened.Registry.GetByKeyIdAsync(afterResult.KeyId, includeCredentials: true, Ct))!.Credentials!["openai"].Secret);
    }

    [Fact]
    public async Task Tampered_credential_ciphertext_is_refused_with_a_clear_error_naming_key_and_provider()
    {
        var upsert = TestRegistry.NewKey(providerKey: "sk-tamper-target");
        var result = await _registry.Registry.UpsertAsync(upsert, Ct);
        await FlipCiphertextByteAsync(result.KeyId);

        var error = await Assert.ThrowsAsync<RegistryProtectionException>(
            () => _registry.Registry.GetByKeyIdAsync(result.KeyId, includeCredentials: true, Ct));

        Assert.Equal(RegistryProtectionFailure.Tampered, error.Failure);
        Assert.Contains(upsert.Identity.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("provider 'openai'", error.Message, StringComparison.Ordinal);
        Assert.Contains("integrity check", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-tamper-target", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_tampered_credential_does_not_stop_a_list_of_keys_from_loading()
    {
        var tampered = TestRegistry.NewKey(providerKey: "sk-tampered-in-list");
        var healthy = TestRegistry.NewKey(providerKey: "sk-healthy-in-list");
        var tamperedResult = await _registry.Registry.UpsertAsync(tampered, Ct);
        var healthyResult = await _registry.Registry.UpsertAsync(healthy, Ct);
        await FlipCiphertextByteAsync(tamperedResult.KeyId);

        // The sidecar's snapshot: every key loads; the one credential that does not open is left out.
        var live = await _registry.Registry.ListLiveKeysAsync(includeCredentials: true, Ct);

        Assert.Equal("sk-healthy-in-list", Assert.Single(live.Keys, k => k.KeyId == healthyResult.KeyId).Credentials!["openai"].Secret);
        Assert.Empty(Assert.Single(live.Keys, k => k.KeyId == tamperedResult.KeyId).Credentials!);
        await Assert.ThrowsAsync<RegistryProtectionException>(() => _registry.Registry.GetByKeyIdAsync(tamperedResult.KeyId, includeCredentials: true, Ct));
    }

    [Fact]
    public async Task Ciphertext_copied_from_another_key_does_not_open()
    {
        var victim = TestRegistry.NewKey(providerKey: "sk-victim");
        var attacker = TestRegistry.NewKey(providerKey: "sk-attacker");
        var victimResult = await _registry.Registry.UpsertAsync(victim, Ct);
        var attackerResult = await _registry.Registry.UpsertAsync(attacker, Ct);
        await ExecuteAsync(
            """
            UPDATE vk.provider_credentials target SET ciphertext = source.ciphertext
            FROM vk.provider_credentials source, vk.virtual_keys sk, vk.virtual_keys tk
            WHERE sk.id = source.virtual_key AND sk.key_id = @keyId AND tk.id = target.virtual_key AND tk.key_id = @other
            """,
            victimResult.KeyId,
            attackerResult.KeyId);

        var error = await Assert.ThrowsAsync<RegistryProtectionException>(
            () => _registry.Registry.GetByKeyIdAsync(attackerResult.KeyId, includeCredentials: true, Ct));

        Assert.Equal(RegistryProtectionFailure.Tampered, error.Failure);
    }

    [Fact]
    public async Task Wrong_KEK_is_refused_at_start_up_with_a_clear_error()
    {
        await _registry.Registry.UpsertAsync(TestRegistry.NewKey(), Ct);
        var wrongKek = Path.Combine(Path.GetTempPath(), "vk-kek-wrong-" + Guid.NewGuid().ToString("N"));
        KeyEncryptionKey.WriteNewFile(wrongKek);
        try
        {
            var error = Assert.Throws<RegistryProtectionException>(() => CredentialProtector.Create(_registry.Database, wrongKek));

            Assert.Equal(RegistryProtectionFailure.WrongKeyEncryptionKey, error.Failure);
            Assert.Contains(wrongKek, error.Message, StringComparison.Ordinal);
            Assert.Contains("key-encryption key", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(File.ReadAllText(wrongKek).Trim(), error.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(File.ReadAllText(fixture.KekPath).Trim(), error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(wrongKek);
        }
    }

    [Fact]
    public async Task Tampered_key_ring_element_is_refused_at_start_up()
    {
        await _registry.Registry.UpsertAsync(TestRegistry.NewKey(), Ct);
        var original = await fixture.ScalarAsync<string>("SELECT xml FROM vk.data_protection_keys ORDER BY id LIMIT 1");
        var tampered = XElement.Parse(original);
        var sealedElement = tampered.Descendants(XName.Get("encryptedElement", "urn:aigateway.dev:virtual-keys:kek")).Single();
        var sealedBytes = Convert.FromBase64String(sealedElement.Value);
        sealedBytes[^1] ^= 0x01;
        sealedElement.Value = Convert.ToBase64String(sealedBytes);
        await SetFirstKeyRingElementAsync(tampered.ToString());
        try
        {
            var error = Assert.Throws<RegistryProtectionException>(() => CredentialProtector.Create(_registry.Database, fixture.KekPath));

            Assert.Equal(RegistryProtectionFailure.Tampered, error.Failure);
            Assert.Contains("key ring", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await SetFirstKeyRingElementAsync(original);
        }
    }

    [Fact]
    public void Malformed_KEK_file_is_refused_without_showing_its_content()
    {
        var path = Path.Combine(Path.GetTempPath(), "vk-kek-short-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, "c2hvcnQtc2VjcmV0LXZhbHVl");
        try
        {
            var error = Assert.Throws<RegistryProtectionException>(() => KeyEncryptionKey.Load(path));

            Assert.Equal(RegistryProtectionFailure.KeyEncryptionKeyUnavailable, error.Failure);
            Assert.Contains(path, error.Message, StringComparison.Ordinal);
            Assert.Contains("32 random bytes encoded as base64", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("c2hvcnQtc2VjcmV0LXZhbHVl", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Missing_KEK_file_names_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), "vk-kek-missing-" + Guid.NewGuid().ToString("N"));

        var error = Assert.Throws<RegistryProtectionException>(() => KeyEncryptionKey.Load(path));

        Assert.Equal(RegistryProtectionFailure.KeyEncryptionKeyUnavailable, error.Failure);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Credential_fingerprints_are_equal_for_equal_keys_and_are_not_a_plain_hash()
    {
        var first = _registry.Protector.Fingerprint("sk-same");
        var second = _registry.Protector.Fingerprint("sk-same");
        var other = _registry.Protector.Fingerprint("sk-other");

        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
        Assert.NotEqual(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("sk-same")), first);
    }

    /// <summary>The id of the Data Protection key that protected a key's credential (payload bytes 4..20).</summary>
    private async Task<Guid> ProtectingKeyAsync(string keyId)
    {
        var ciphertext = await fixture.ScalarAsync<byte[]>(
            "SELECT c.ciphertext FROM vk.provider_credentials c JOIN vk.virtual_keys k ON k.id = c.virtual_key WHERE k.key_id = $1",
            keyId);
        return new Guid(ciphertext.AsSpan(4, 16));
    }

    /// <summary>Every row of every table in the vk schema, each cast to text, by table name.</summary>
    private async Task<Dictionary<string, string>> DumpSchemaAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync(Ct);
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = 'vk' AND table_type = 'BASE TABLE'", connection))
        await using (var reader = await list.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                tables.Add(reader.GetString(0));
            }
        }

        var dump = new Dictionary<string, string>();
        foreach (var table in tables)
        {
            await using var select = new NpgsqlCommand($"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM vk.\"{table}\" t", connection);
            dump[table] = (string)(await select.ExecuteScalarAsync(Ct))!;
        }

        return dump;
    }

    private async Task SetFirstKeyRingElementAsync(string xml)
    {
        await using var connection = new NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("UPDATE vk.data_protection_keys SET xml = @xml WHERE id = (SELECT min(id) FROM vk.data_protection_keys)", connection);
        command.Parameters.AddWithValue("xml", xml);
        await command.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>Changes one byte of a key's stored credential ciphertext, as tampering with the table would.</summary>
    private Task FlipCiphertextByteAsync(string keyId) => ExecuteAsync(
        """
        UPDATE vk.provider_credentials c SET ciphertext = set_byte(ciphertext, length(ciphertext) - 6, get_byte(ciphertext, length(ciphertext) - 6) # 1)
        FROM vk.virtual_keys k WHERE k.id = c.virtual_key AND k.key_id = @keyId
        """,
        keyId);

    private async Task ExecuteAsync(string sql, string? keyId = null, string? other = null)
    {
        await using var connection = new NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("keyId", keyId ?? "");
        command.Parameters.AddWithValue("other", other ?? "");
        await command.ExecuteNonQueryAsync(Ct);
    }
}
