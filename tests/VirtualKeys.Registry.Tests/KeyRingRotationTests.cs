using Dapper;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

public sealed class KeyRingRotationTests(PostgresFixture server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reencryption_moves_every_credential_to_the_new_ring_key_and_each_still_opens()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "ring_reencrypt");
        using var replica = scenario.Open(scenario.OldKek);
        var keys = new List<(string KeyId, string Secret)>();
        for (var i = 0; i < 3; i++)
        {
            var secret = $"sk-ring-{i}";
            keys.Add(((await scenario.WriteKeyAsync(replica, secret)).KeyId, secret));
        }

        var oldRingKey = Assert.Single(await ProtectingKeysAsync(scenario));
        var newRingKey = replica.Protector.RotateKey();
        var result = await new CredentialReencryption(scenario.Database, replica.Protector).ReencryptAsync(progress: null, Ct);
        using var restarted = scenario.Open(scenario.OldKek);

        Assert.NotEqual(oldRingKey, newRingKey);
        Assert.Equal((newRingKey, 3, 0, 0), (result.TargetKeyId, result.Reencrypted, result.AlreadyCurrent, result.ChangedMeanwhile));
        Assert.Equal([newRingKey], await ProtectingKeysAsync(scenario));
        foreach (var (keyId, secret) in keys)
        {
            Assert.Equal(secret, await scenario.ReadCredentialAsync(restarted, keyId));
        }
    }

    [Fact]
    public async Task Reencryption_changes_no_change_version_so_sidecars_do_not_reload_and_the_operator_rewrites_nothing()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "ring_versions");
        using var replica = scenario.Open(scenario.OldKek);
        var upsert = TestRegistry.NewKey(providerKey: "sk-steady");
        var written = await replica.Registry.UpsertAsync(upsert, Ct);

        replica.Protector.RotateKey();
        await new CredentialReencryption(scenario.Database, replica.Protector).ReencryptAsync(progress: null, Ct);
        var again = await replica.Registry.UpsertAsync(upsert, Ct);
        var live = await replica.Registry.ListLiveKeysAsync(includeCredentials: true, Ct);

        Assert.False(again.Changed);
        Assert.Equal(written.ChangeVersion, live.ChangeVersion);
        Assert.Equal("sk-steady", Assert.Single(live.Keys).Credentials!["openai"].Secret);
    }

    [Fact]
    public async Task An_interrupted_reencryption_is_resumed_by_running_it_again()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "ring_resume");
        using var replica = scenario.Open(scenario.OldKek);
        for (var i = 0; i < 3; i++)
        {
            await scenario.WriteKeyAsync(replica, $"sk-resume-{i}");
        }

        var newRingKey = replica.Protector.RotateKey();
        using var crash = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var reencryption = new CredentialReencryption(scenario.Database, replica.Protector);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reencryption.ReencryptAsync(new CancelOnReport(crash), crash.Token));
        var resumed = await reencryption.ReencryptAsync(progress: null, Ct);

        Assert.Equal((2, 1), (resumed.Reencrypted, resumed.AlreadyCurrent));
        Assert.Equal([newRingKey], await ProtectingKeysAsync(scenario));
    }

    [Fact]
    public async Task Credentials_written_before_a_rotation_stay_readable_without_reencryption()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "ring_keep");
        using var replica = scenario.Open(scenario.OldKek);
        var before = (await scenario.WriteKeyAsync(replica, "sk-kept")).KeyId;

        var newRingKey = replica.Protector.RotateKey();
        var after = (await scenario.WriteKeyAsync(replica, "sk-new")).KeyId;
        using var restarted = scenario.Open(scenario.OldKek);

        Assert.Equal(2, (await ProtectingKeysAsync(scenario)).Count);
        Assert.Contains(newRingKey, await ProtectingKeysAsync(scenario));
        Assert.Equal("sk-kept", await scenario.ReadCredentialAsync(restarted, before));
        Assert.Equal("sk-new", await scenario.ReadCredentialAsync(restarted, after));
    }

    /// <summary>The distinct ring keys the stored credentials name in their payload header (bytes 4..20).</summary>
    private static async Task<List<Guid>> ProtectingKeysAsync(KekScenario scenario)
    {
        await using var connection = await scenario.Database.OpenConnectionAsync(Ct);
        var ciphertexts = await connection.QueryAsync<byte[]>(new CommandDefinition("SELECT ciphertext FROM vk.provider_credentials", cancellationToken: Ct));
        return [.. ciphertexts.Select(ciphertext => new Guid(ciphertext.AsSpan(4, 16))).Distinct()];
    }

    private sealed class CancelOnReport(CancellationTokenSource source) : IProgress<int>
    {
        public void Report(int value) => source.Cancel();
    }
}
