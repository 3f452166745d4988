using Dapper;
using VirtualKeys.Registry.Protection;
using VirtualKeys.Testing.Postgres;

namespace VirtualKeys.Registry.Tests;

public sealed class KekReplacementTests(PostgresFixture server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task After_replacement_the_new_KEK_alone_opens_every_credential_and_the_old_KEK_alone_is_refused()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_replace");
        string first, second, third;
        using (var before = scenario.Open(scenario.OldKek))
        {
            first = (await scenario.WriteKeyAsync(before, "sk-first")).KeyId;
            second = (await scenario.WriteKeyAsync(before, "sk-second")).KeyId;
            before.Protector.RotateKey();
            third = (await scenario.WriteKeyAsync(before, "sk-third")).KeyId;
        }

        var elements = (await scenario.ElementsByKekAsync()).Values.Sum();
        var result = await Replace(scenario, scenario.OldKek, scenario.NewKek);

        Assert.Equal((elements, 0, 3, 3), (result.Rewrapped, result.AlreadyUnderNewKek, result.FingerprintsUpdated, result.Credentials));
        Assert.Equal(new Dictionary<string, int> { [KekScenario.IdOf(scenario.NewKek)] = elements }, await scenario.ElementsByKekAsync());

        var refused = Assert.Throws<RegistryProtectionException>(() => scenario.Open(scenario.OldKek));
        Assert.Equal(RegistryProtectionFailure.WrongKeyEncryptionKey, refused.Failure);
        Assert.Contains(scenario.OldKek, refused.Message, StringComparison.Ordinal);

        using var after = scenario.Open(scenario.NewKek);
        Assert.Equal("sk-first", await scenario.ReadCredentialAsync(after, first));
        Assert.Equal("sk-second", await scenario.ReadCredentialAsync(after, second));
        Assert.Equal("sk-third", await scenario.ReadCredentialAsync(after, third));
    }

    [Fact]
    public async Task Fingerprints_follow_the_new_KEK_so_the_operator_rewrites_nothing_after_the_switch()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_fingerprints");
        var upsert = TestRegistry.NewKey(providerKey: "sk-unchanged");
        using (var before = scenario.Open(scenario.OldKek))
        {
            await before.Registry.UpsertAsync(upsert, Ct);
        }

        await Replace(scenario, scenario.OldKek, scenario.NewKek);
        using var after = scenario.Open(scenario.NewKek);
        var again = await after.Registry.UpsertAsync(upsert, Ct);

        Assert.False(again.Changed);
    }

    [Fact]
    public async Task While_the_switch_rolls_out_replicas_with_either_KEK_first_read_a_ring_sealed_under_both()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_rollout");
        using var oldFirst = scenario.Open(scenario.OldKek, scenario.NewKek);
        var before = (await scenario.WriteKeyAsync(oldFirst, "sk-before-switch")).KeyId;

        // A replica already switched adds a ring key: it is sealed under the new KEK.
        using var newFirst = scenario.Open(scenario.NewKek, scenario.OldKek);
        newFirst.Protector.RotateKey();
        var after = (await scenario.WriteKeyAsync(newFirst, "sk-after-switch")).KeyId;
        using var restarted = scenario.Open(scenario.OldKek, scenario.NewKek);

        Assert.Equal(1, (await scenario.ElementsByKekAsync())[KekScenario.IdOf(scenario.NewKek)]);
        Assert.Equal("sk-after-switch", await scenario.ReadCredentialAsync(oldFirst, after));
        Assert.Equal("sk-after-switch", await scenario.ReadCredentialAsync(restarted, after));
        Assert.Equal("sk-before-switch", await scenario.ReadCredentialAsync(newFirst, before));
        Assert.Equal(
            RegistryProtectionFailure.WrongKeyEncryptionKey,
            Assert.Throws<RegistryProtectionException>(() => scenario.Open(scenario.OldKek)).Failure);
    }

    [Fact]
    public async Task A_ring_partly_sealed_under_the_new_KEK_is_completed_and_a_rerun_changes_nothing()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_partial");
        string keyId;
        using (var oldFirst = scenario.Open(scenario.OldKek))
        {
            keyId = (await scenario.WriteKeyAsync(oldFirst, "sk-partial")).KeyId;
        }

        using (var newFirst = scenario.Open(scenario.NewKek, scenario.OldKek))
        {
            newFirst.Protector.RotateKey();
        }

        var underOld = (await scenario.ElementsByKekAsync())[KekScenario.IdOf(scenario.OldKek)];
        var first = await Replace(scenario, scenario.OldKek, scenario.NewKek);
        var rerun = await Replace(scenario, scenario.OldKek, scenario.NewKek);
        using var after = scenario.Open(scenario.NewKek);

        Assert.Equal((underOld, 1), (first.Rewrapped, first.AlreadyUnderNewKek));
        Assert.Equal((0, underOld + 1, 0), (rerun.Rewrapped, rerun.AlreadyUnderNewKek, rerun.FingerprintsUpdated));
        Assert.Equal("sk-partial", await scenario.ReadCredentialAsync(after, keyId));
    }

    [Fact]
    public async Task A_replacement_interrupted_half_way_leaves_the_ring_as_it_was_and_a_rerun_completes()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_interrupted");
        string keyId;
        using (var before = scenario.Open(scenario.OldKek))
        {
            await scenario.WriteKeyAsync(before, "sk-one");
            before.Protector.RotateKey();
            before.Protector.RotateKey();
            keyId = (await scenario.WriteKeyAsync(before, "sk-two")).KeyId;
        }

        var stored = await scenario.ElementsByKekAsync();
        using var crash = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        using var oldKek = KeyEncryptionKey.Load(scenario.OldKek);
        using var newKek = KeyEncryptionKey.Load(scenario.NewKek);

        // The "crash" comes right after the first element was re-sealed, with more to go.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new KekReplacement(scenario.Database).ReplaceAsync(oldKek, newKek, new CancelOnReport(crash), crash.Token));
        var afterCrash = await scenario.ElementsByKekAsync();
        using (var stillOld = scenario.Open(scenario.OldKek))
        {
            Assert.Equal("sk-two", await scenario.ReadCredentialAsync(stillOld, keyId));
        }

        var rerun = await new KekReplacement(scenario.Database).ReplaceAsync(oldKek, newKek, progress: null, Ct);
        using var after = scenario.Open(scenario.NewKek);

        Assert.True(stored.Values.Single() > 1);
        Assert.Equal(stored, afterCrash);
        Assert.Equal((stored.Values.Single(), 0), (rerun.Rewrapped, rerun.AlreadyUnderNewKek));
        Assert.Equal("sk-two", await scenario.ReadCredentialAsync(after, keyId));
    }

    [Fact]
    public async Task Resuming_with_a_different_new_KEK_is_refused_with_the_KEK_ids_and_changes_nothing()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_wrong_new");
        using (var oldFirst = scenario.Open(scenario.OldKek))
        {
            await scenario.WriteKeyAsync(oldFirst, "sk-wrong-new");
        }

        using (var newFirst = scenario.Open(scenario.NewKek, scenario.OldKek))
        {
            newFirst.Protector.RotateKey();
        }

        var stored = await scenario.ElementsByKekAsync();
        var other = scenario.NewKekFile("other");

        var error = await Assert.ThrowsAsync<RegistryProtectionException>(() => Replace(scenario, scenario.OldKek, other));

        Assert.Equal(RegistryProtectionFailure.WrongKeyEncryptionKey, error.Failure);
        Assert.Contains($"id {KekScenario.IdOf(scenario.NewKek)}, which is neither", error.Message, StringComparison.Ordinal);
        Assert.Contains(other, error.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", error.Message, StringComparison.Ordinal);
        Assert.Equal(stored, await scenario.ElementsByKekAsync());
        await AssertNoKeyMaterialAsync(scenario, error);
    }

    [Fact]
    public async Task An_old_KEK_that_is_not_the_registry_s_is_refused_before_anything_changes()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_wrong_old");
        using (var registry = scenario.Open(scenario.OldKek))
        {
            await scenario.WriteKeyAsync(registry, "sk-wrong-old");
        }

        var stored = await scenario.ElementsByKekAsync();
        var stranger = scenario.NewKekFile("stranger");

        var error = await Assert.ThrowsAsync<RegistryProtectionException>(() => Replace(scenario, stranger, scenario.NewKek));

        Assert.Equal(RegistryProtectionFailure.WrongKeyEncryptionKey, error.Failure);
        Assert.Contains(stranger, error.Message, StringComparison.Ordinal);
        Assert.Contains(KekScenario.IdOf(scenario.OldKek), error.Message, StringComparison.Ordinal);
        Assert.Equal(stored, await scenario.ElementsByKekAsync());
        await AssertNoKeyMaterialAsync(scenario, error);
    }

    [Fact]
    public async Task Replicas_starting_and_reading_while_the_ring_is_re_sealed_never_fail()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_concurrent");
        var keys = new List<(string KeyId, string Secret)>();
        using (var before = scenario.Open(scenario.OldKek))
        {
            for (var i = 0; i < 4; i++)
            {
                keys.Add(((await scenario.WriteKeyAsync(before, $"sk-concurrent-{i}")).KeyId, $"sk-concurrent-{i}"));
                before.Protector.RotateKey();
            }
        }

        // Each replica keeps reading from before the replacement begins until it has read once more after
        // it returned, so reads cover the whole switch: the first read of each is done before it starts,
        // and each stops only after a read that began once it was over.
        var replaced = 0;
        var firstReads = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
        var readers = firstReads.Select(firstRead => Task.Run(
            async () =>
            {
                try
                {
                    bool beganAfter;
                    do
                    {
                        beganAfter = Volatile.Read(ref replaced) == 1;

                        // A replica restarting mid-switch: it verifies the whole ring, then decrypts every credential.
                        using var replica = scenario.Open(scenario.NewKek, scenario.OldKek);
                        foreach (var (keyId, secret) in keys)
                        {
                            Assert.Equal(secret, await scenario.ReadCredentialAsync(replica, keyId));
                        }

                        firstRead.TrySetResult();
                    }
                    while (!beganAfter);
                }
                catch (Exception ex)
                {
                    // A failing first read must not leave the test waiting for it.
                    firstRead.TrySetException(ex);
                    throw;
                }
            },
            Ct)).ToList();

        await Task.WhenAll(firstReads.Select(f => f.Task));
        var result = await Replace(scenario, scenario.OldKek, scenario.NewKek);
        Volatile.Write(ref replaced, 1);
        await Task.WhenAll(readers);

        Assert.Equal(5, result.Rewrapped);
    }

    [Fact]
    public async Task A_ring_that_does_not_read_back_as_written_is_refused_and_rolled_back()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_read_back");
        string keyId;
        using (var registry = scenario.Open(scenario.OldKek))
        {
            keyId = (await scenario.WriteKeyAsync(registry, "sk-read-back")).KeyId;
        }

        var stored = await scenario.ElementsByKekAsync();

        // A storage layer that mangles what is written: the sealed payload's first bytes are overwritten on update.
        await ExecuteAsync(
            scenario,
            """
            CREATE FUNCTION vk.test_mangle() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.xml := regexp_replace(NEW.xml, '>[A-Za-z0-9+/]{8}', '>AAAAAAAA'); RETURN NEW; END $$;
            CREATE TRIGGER test_mangle BEFORE UPDATE ON vk.data_protection_keys FOR EACH ROW EXECUTE FUNCTION vk.test_mangle();
            """);

        var error = await Assert.ThrowsAsync<RegistryProtectionException>(() => Replace(scenario, scenario.OldKek, scenario.NewKek));
        await ExecuteAsync(scenario, "DROP TRIGGER test_mangle ON vk.data_protection_keys; DROP FUNCTION vk.test_mangle();");

        Assert.Contains("did not open with the new key-encryption key", error.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was changed", error.Message, StringComparison.Ordinal);
        Assert.Equal(stored, await scenario.ElementsByKekAsync());
        using var stillOld = scenario.Open(scenario.OldKek);
        Assert.Equal("sk-read-back", await scenario.ReadCredentialAsync(stillOld, keyId));
    }

    [Fact]
    public async Task Replacing_a_KEK_with_itself_is_refused()
    {
        await using var scenario = await KekScenario.CreateAsync(server, "kek_same");
        var copy = scenario.NewKekFile("copy");
        File.Copy(scenario.OldKek, copy, overwrite: true);

        var error = await Assert.ThrowsAsync<RegistryProtectionException>(() => Replace(scenario, scenario.OldKek, copy));

        Assert.Contains("is the same key as the old one", error.Message, StringComparison.Ordinal);
    }

    private static async Task<KekReplacementResult> Replace(KekScenario scenario, string oldPath, string newPath)
    {
        using var oldKek = KeyEncryptionKey.Load(oldPath);
        using var newKek = KeyEncryptionKey.Load(newPath);
        return await new KekReplacement(scenario.Database).ReplaceAsync(oldKek, newKek, progress: null, Ct);
    }

    private static async Task ExecuteAsync(KekScenario scenario, string sql)
    {
        await using var connection = await scenario.Database.OpenConnectionAsync(Ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, cancellationToken: Ct));
    }

    private static async Task AssertNoKeyMaterialAsync(KekScenario scenario, Exception error)
    {
        var text = error.ToString();
        foreach (var line in (await scenario.KekFileTextsAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Assert.DoesNotContain(line, text, StringComparison.Ordinal);
        }
    }

    /// <summary>Cancels synchronously at the first report, as a crash would interrupt the run at that point.</summary>
    private sealed class CancelOnReport(CancellationTokenSource source) : IProgress<int>
    {
        public void Report(int value) => source.Cancel();
    }
}
