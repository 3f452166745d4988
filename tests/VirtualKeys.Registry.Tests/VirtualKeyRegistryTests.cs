using Npgsql;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;

namespace VirtualKeys.Registry.Tests;

public sealed class VirtualKeyRegistryTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>, IAsyncLifetime
{
    private TestRegistry _registry = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _registry = await fixture.OpenAsync();

    public ValueTask DisposeAsync() => _registry.DisposeAsync();

    [Fact]
    public async Task Upserted_key_reads_back_by_name_and_by_key_id_with_its_credentials()
    {
        var upsert = TestRegistry.NewKey(providerKey: "sk-roundtrip-secret");

        var result = await _registry.Registry.UpsertAsync(upsert, Ct);
        var byName = await _registry.Registry.GetAsync(upsert.Identity.Namespace, upsert.Identity.Name, includeCredentials: true, Ct);
        var byKeyId = await _registry.Registry.GetByKeyIdAsync(result.KeyId, includeCredentials: false, Ct);

        Assert.True(result.Changed);
        Assert.Equal(VirtualKeyId.FromUid(upsert.Identity.Uid), result.KeyId);
        Assert.NotNull(byName);
        Assert.Equal(upsert.Identity, byName.Identity);
        Assert.Equal(VirtualKeyState.Active, byName.State);
        Assert.Equal("gpt-4o-mini", byName.Config.DefaultModel);
        Assert.Equal(["gpt-4o-mini", "gpt-4o"], byName.Config.AllowedModels);
        Assert.Equal("gpt-4o-mini", byName.Config.ModelAliases["fast"]);
        Assert.Equal(60, byName.Config.Limits.RequestsPerMinute);
        Assert.Equal(25.50m, byName.Config.Budget!.MaxCostUsd);
        Assert.Equal("https://api.openai.example/v1", Assert.Single(byName.Config.Providers).BaseUrl);
        Assert.Equal("sk-roundtrip-secret", byName.Credentials!["openai"].Secret);
        Assert.NotNull(byKeyId);
        Assert.Equal(upsert.Identity, byKeyId.Identity);
        Assert.Null(byKeyId.Credentials);
    }

    [Fact]
    public async Task Identical_upsert_reports_no_change_and_writes_no_row()
    {
        var upsert = TestRegistry.NewKey();
        upsert = upsert with { Tokens = new TokenChanges([VirtualKeyToken.Generate(VirtualKeyId.FromUid(upsert.Identity.Uid))]) };
        var first = await _registry.Registry.UpsertAsync(upsert, Ct);
        var versionsBefore = await RowVersionsAsync(first.KeyId);

        var second = await _registry.Registry.UpsertAsync(upsert, Ct);

        Assert.True(first.Changed);
        Assert.False(second.Changed);
        Assert.Equal(first.ChangeVersion, second.ChangeVersion);
        Assert.Equal(versionsBefore, await RowVersionsAsync(first.KeyId));
    }

    [Fact]
    public async Task Changed_credential_alone_is_a_change_and_the_new_secret_is_served()
    {
        var upsert = TestRegistry.NewKey(providerKey: "sk-before");
        var first = await _registry.Registry.UpsertAsync(upsert, Ct);

        var second = await _registry.Registry.UpsertAsync(upsert with { Credentials = [new ProviderCredential("openai", "sk-after")] }, Ct);
        var stored = await _registry.Registry.GetByKeyIdAsync(first.KeyId, includeCredentials: true, Ct);

        Assert.True(second.Changed);
        Assert.True(second.ChangeVersion > first.ChangeVersion);
        Assert.Equal("sk-after", stored!.Credentials!["openai"].Secret);
    }

    [Fact]
    public async Task Suspending_a_key_changes_its_state()
    {
        var upsert = TestRegistry.NewKey();
        await _registry.Registry.UpsertAsync(upsert, Ct);

        var result = await _registry.Registry.UpsertAsync(upsert with { Config = upsert.Config with { Suspended = true } }, Ct);

        Assert.True(result.Changed);
        Assert.Equal(VirtualKeyState.Suspended, result.State);
        Assert.Equal(VirtualKeyState.Suspended, (await _registry.Registry.GetByKeyIdAsync(result.KeyId, includeCredentials: false, Ct))!.State);
    }

    [Fact]
    public async Task Restriction_suspends_and_moves_the_expiry_earlier_but_never_gives_the_key_more()
    {
        var upsert = TestRegistry.NewKey(providerKey: "sk-kept");
        var registered = _registry.Time.GetUtcNow().AddDays(30);
        var created = await _registry.Registry.UpsertAsync(upsert with { Config = upsert.Config with { ExpiresAt = registered } }, Ct);
        var restriction = new VirtualKeyRestriction(upsert.Identity, Suspend: true, ExpiresAt: registered.AddDays(-20));

        var restricted = await _registry.Registry.RestrictAsync(restriction, Ct);
        var again = await _registry.Registry.RestrictAsync(restriction, Ct);
        var loosened = await _registry.Registry.RestrictAsync(new VirtualKeyRestriction(upsert.Identity, Suspend: false, ExpiresAt: null), Ct);
        var stored = await _registry.Registry.GetByKeyIdAsync(created.KeyId, includeCredentials: true, Ct);

        Assert.True(restricted!.Changed);
        Assert.True(restricted.ChangeVersion > created.ChangeVersion);
        Assert.Equal(VirtualKeyState.Suspended, restricted.State);
        Assert.Equal(registered.AddDays(-20), restricted.ExpiresAt);
        Assert.False(again!.Changed);
        Assert.False(loosened!.Changed);
        Assert.Equal(VirtualKeyState.Suspended, stored!.State);
        Assert.True(stored.Config.Suspended);
        Assert.Equal(registered.AddDays(-20), stored.Config.ExpiresAt);

        // The rest stays as last upserted, and the next upsert writes the spec as it is then.
        Assert.Equal(upsert.Generation, stored.Generation);
        Assert.Equal("sk-kept", stored.Credentials!["openai"].Secret);
        var resumed = await _registry.Registry.UpsertAsync(upsert, Ct);
        Assert.True(resumed.Changed);
        Assert.Equal(VirtualKeyState.Active, resumed.State);
    }

    [Fact]
    public async Task Restriction_of_a_key_never_upserted_finds_nothing_and_writes_nothing()
    {
        var upsert = TestRegistry.NewKey();

        var result = await _registry.Registry.RestrictAsync(new VirtualKeyRestriction(upsert.Identity, Suspend: true, ExpiresAt: null), Ct);

        Assert.Null(result);
        Assert.Null(await _registry.Registry.GetAsync(upsert.Identity.Namespace, upsert.Identity.Name, includeCredentials: false, Ct));
    }

    [Fact]
    public async Task Restriction_can_rotate_the_token()
    {
        var upsert = TestRegistry.NewKey();
        var keyId = VirtualKeyId.FromUid(upsert.Identity.Uid);
        var old = VirtualKeyToken.Generate(keyId);
        await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([old]) }, Ct);
        var fresh = VirtualKeyToken.Generate(keyId);

        var result = await _registry.Registry.RestrictAsync(
            new VirtualKeyRestriction(upsert.Identity, Suspend: false, ExpiresAt: null, new TokenChanges([fresh], _registry.Time.GetUtcNow())),
            Ct);

        Assert.True(result!.Changed);
        Assert.Equal(VirtualKeyState.Active, result.State);
        Assert.Equal(TokenVerificationStatus.Accepted, (await _registry.Registry.VerifyTokenAsync(fresh.Reveal(), Ct)).Status);
        _registry.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TokenVerificationStatus.Retired, (await _registry.Registry.VerifyTokenAsync(old.Reveal(), Ct)).Status);
    }

    [Fact]
    public async Task Tombstone_keeps_the_row_erases_credentials_and_refuses_tokens()
    {
        var upsert = TestRegistry.NewKey();
        var token = VirtualKeyToken.Generate(VirtualKeyId.FromUid(upsert.Identity.Uid));
        var created = await _registry.Registry.UpsertAsync(upsert with { Tokens = new TokenChanges([token]) }, Ct);
        Assert.Equal(TokenVerificationStatus.Accepted, (await _registry.Registry.VerifyTokenAsync(token.Reveal(), Ct)).Status);

        var tombstoned = await _registry.Registry.TombstoneAsync(upsert.Identity, Ct);
        var again = await _registry.Registry.TombstoneAsync(upsert.Identity, Ct);
        var record = await _registry.Registry.GetByKeyIdAsync(created.KeyId, includeCredentials: true, Ct);
        var live = await _registry.Registry.ListLiveKeysAsync(includeCredentials: false, Ct);
        var verification = await _registry.Registry.VerifyTokenAsync(token.Reveal(), Ct);
        var upsertAfterDelete = await _registry.Registry.UpsertAsync(upsert, Ct);

        Assert.True(tombstoned);
        Assert.False(again);
        Assert.Equal(VirtualKeyState.Tombstoned, record!.State);
        Assert.NotNull(record.TombstonedAt);
        Assert.Empty(record.Credentials!);
        Assert.DoesNotContain(live.Keys, k => k.KeyId == created.KeyId);
        Assert.Equal(TokenVerificationStatus.KeyDeleted, verification.Status);
        Assert.False(upsertAfterDelete.Changed);
        Assert.Equal(VirtualKeyState.Tombstoned, upsertAfterDelete.State);
    }

    [Fact]
    public async Task Recreated_resource_with_a_new_uid_replaces_the_old_key()
    {
        var old = TestRegistry.NewKey();
        var replacement = TestRegistry.NewKey(identity: old.Identity with { Uid = Guid.NewGuid().ToString() });
        var oldResult = await _registry.Registry.UpsertAsync(old, Ct);

        var newResult = await _registry.Registry.UpsertAsync(replacement, Ct);
        var current = await _registry.Registry.GetAsync(old.Identity.Namespace, old.Identity.Name, includeCredentials: false, Ct);

        Assert.NotEqual(oldResult.KeyId, newResult.KeyId);
        Assert.Equal(newResult.KeyId, current!.KeyId);
        Assert.Equal(VirtualKeyState.Tombstoned, (await _registry.Registry.GetByKeyIdAsync(oldResult.KeyId, includeCredentials: false, Ct))!.State);
    }

    [Fact]
    public async Task Listing_changes_since_a_version_returns_only_later_changes_tombstones_included()
    {
        var first = TestRegistry.NewKey();
        var second = TestRegistry.NewKey();
        await _registry.Registry.UpsertAsync(first, Ct);
        var snapshot = await _registry.Registry.ListLiveKeysAsync(includeCredentials: true, Ct);

        var secondResult = await _registry.Registry.UpsertAsync(second, Ct);
        await _registry.Registry.TombstoneAsync(first.Identity, Ct);
        var changes = await _registry.Registry.ListChangedSinceAsync(snapshot.ChangeVersion, includeCredentials: false, Ct);

        Assert.Contains(snapshot.Keys, k => k.Identity == first.Identity && k.Credentials!.ContainsKey("openai"));
        Assert.Equal(
            [(second.Identity, VirtualKeyState.Active), (first.Identity, VirtualKeyState.Tombstoned)],
            changes.Keys.Select(k => (k.Identity, k.State)));
        Assert.True(changes.ChangeVersion > secondResult.ChangeVersion);
    }

    [Fact]
    public async Task Upsert_with_a_credential_missing_names_the_provider()
    {
        var upsert = TestRegistry.NewKey() with { Credentials = [] };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _registry.Registry.UpsertAsync(upsert, Ct));

        Assert.Contains("provider 'openai' has no credential", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upsert_with_a_token_of_another_key_is_refused()
    {
        var upsert = TestRegistry.NewKey() with
        {
            Tokens = new TokenChanges([VirtualKeyToken.Generate(VirtualKeyId.FromUid("some-other-uid"))]),
        };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => _registry.Registry.UpsertAsync(upsert, Ct));

        Assert.Contains("Tokens.Issue", error.Message, StringComparison.Ordinal);
    }

    /// <summary>xmin of every row of the key: it changes whenever a row is rewritten.</summary>
    private async Task<string> RowVersionsAsync(string keyId)
    {
        await using var connection = new NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(
            """
            SELECT string_agg(x, ',' ORDER BY x) FROM (
                SELECT 'k' || k.xmin::text AS x FROM vk.virtual_keys k WHERE k.key_id = @keyId
                UNION ALL SELECT 'c' || c.xmin::text FROM vk.provider_credentials c JOIN vk.virtual_keys k ON k.id = c.virtual_key WHERE k.key_id = @keyId
                UNION ALL SELECT 't' || t.xmin::text FROM vk.token_hashes t JOIN vk.virtual_keys k ON k.id = t.virtual_key WHERE k.key_id = @keyId
            ) rows
            """,
            connection);
        command.Parameters.AddWithValue("keyId", keyId);
        return (string)(await command.ExecuteScalarAsync(Ct))!;
    }
}
