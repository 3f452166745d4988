using System.Net;
using System.Net.Http.Json;
using Npgsql;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;
using RegistryKeyBudget = VirtualKeys.Registry.Keys.KeyBudget;
using RegistryKeyLimits = VirtualKeys.Registry.Keys.KeyLimits;

namespace VirtualKeys.Sidecar.Tests.Registry;

public sealed class RegistrySnapshotSourceTests(SidecarRegistryFixture database) : RegistrySidecarTests(database)
{
    /// <summary>How fast a registry change reaches the sidecar (NOTIFY): the tests of propagation assert it.</summary>
    private static readonly TimeSpan ChangeDeadline = TimeSpan.FromSeconds(1);

    /// <summary>For tests about something else, waiting for their key to be served first: generous, for loaded CI machines.</summary>
    private static readonly TimeSpan PreconditionDeadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_key_upserted_in_the_registry_resolves_with_its_default_model_and_decrypted_credential()
    {
        var (identity, keyId, token) = await Sidecar.AddKeyAsync(defaultModel: "gpt-4.1-mini");

        using var response = await Sidecar.ResolveUntilAsync(token, HttpStatusCode.OK, PreconditionDeadline);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await RegistrySidecar.ReadJsonAsync(response);
        Assert.Equal("gpt-4.1-mini", body.GetProperty("model").GetString());
        Assert.Equal(keyId, body.GetProperty("key").GetProperty("id").GetString());
        Assert.Equal(identity.Namespace, body.GetProperty("key").GetProperty("namespace").GetString());
        Assert.Equal(RegistrySidecar.UpstreamCredential, body.GetProperty("provider").GetProperty("credential").GetString());
    }

    [Fact]
    public async Task A_tombstoned_key_is_refused_within_a_second()
    {
        var (identity, _, token) = await Sidecar.AddKeyAsync();
        using (var served = await Sidecar.ResolveUntilAsync(token, HttpStatusCode.OK, PreconditionDeadline))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }

        Assert.True(await Sidecar.Registry.TombstoneAsync(identity, Cancel));
        using var refused = await Sidecar.ResolveUntilAsync(token, HttpStatusCode.Unauthorized, ChangeDeadline);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task After_a_rotation_the_retired_token_is_refused_and_the_new_one_served()
    {
        var (identity, keyId, oldToken) = await Sidecar.AddKeyAsync();
        using (var served = await Sidecar.ResolveUntilAsync(oldToken, HttpStatusCode.OK, PreconditionDeadline))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }

        var newToken = VirtualKeyToken.Generate(keyId);
        await Sidecar.Registry.UpsertAsync(
            RegistrySidecar.NewUpsert(identity, "gpt-4o-mini", null, new TokenChanges([newToken], RetireOthersAt: DateTimeOffset.UtcNow.AddMinutes(-1)), generation: 2),
            Cancel);

        using var newServed = await Sidecar.ResolveUntilAsync(newToken.Reveal(), HttpStatusCode.OK, PreconditionDeadline);
        using var oldRefused = await Sidecar.ResolveAsync(oldToken);

        Assert.Equal(HttpStatusCode.OK, newServed.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, oldRefused.StatusCode);
    }

    [Fact]
    public async Task Usage_reported_through_the_sidecar_lands_in_the_registry_totals()
    {
        var (_, keyId, token) = await Sidecar.AddKeyAsync();
        using var resolved = await Sidecar.ResolveUntilAsync(token, HttpStatusCode.OK, PreconditionDeadline);
        Assert.Equal(HttpStatusCode.OK, resolved.StatusCode);
        var decisionId = (await RegistrySidecar.ReadJsonAsync(resolved)).GetProperty("decisionId").GetString();

        using var reported = await Sidecar.Client.PostAsJsonAsync(
            "/v1/usage",
            new { decisionId, inputTokens = 120, outputTokens = 30, status = "success" },
            Cancel);
        Assert.True(reported.IsSuccessStatusCode, $"POST /v1/usage answered {(int)reported.StatusCode}");

        var totals = await Sidecar.WaitForUsageAsync(keyId, t => t.Requests >= 1);
        Assert.Equal(1, totals.Requests);
        Assert.Equal(120, totals.InputTokens);
        Assert.Equal(30, totals.OutputTokens);
        Assert.True(totals.CostUsd > 0m);
    }

    [Fact]
    public async Task Refusals_reach_the_registry_one_per_refused_request()
    {
        // The limit counts fixed UTC minutes: keep the admitted request and the refused ones in one.
        var second = DateTime.UtcNow.Second;
        if (second > 45)
        {
            await Task.Delay(TimeSpan.FromSeconds(61 - second), Cancel);
        }

        var (_, keyId, token) = await Sidecar.AddKeyAsync(limits: new RegistryKeyLimits(RequestsPerMinute: 1));
        using (var first = await Sidecar.ResolveUntilAsync(token, HttpStatusCode.OK, PreconditionDeadline))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        const int Refused = 3;
        for (var i = 0; i < Refused; i++)
        {
            using var response = await Sidecar.ResolveAsync(token);
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        }

        var totals = await Sidecar.WaitForUsageAsync(keyId, t => t.Rejections.Values.Sum() >= Refused);
        Assert.Equal(Refused, totals.Rejections.GetValueOrDefault("rpm"));
    }

    [Fact]
    public async Task A_sidecar_started_later_knows_the_spend_already_recorded_and_refuses_past_the_budget()
    {
        var (_, keyId, token) = await Sidecar.AddKeyAsync(budget: new RegistryKeyBudget(1.00m, BudgetPeriodKind.Monthly));
        await Sidecar.Registry.RecordUsageAsync(
            [new UsageEvent(Guid.NewGuid().ToString(), keyId, DateTimeOffset.UtcNow, "gpt-4o-mini", "openai", 1000, 1000, 1.50m)],
            Cancel);

        await using var restarted = await RegistrySidecar.StartAsync(Database.ConnectionString, Database.KekPath);
        using var response = await restarted.ResolveAsync(token);

        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        var body = await RegistrySidecar.ReadJsonAsync(response);
        Assert.Equal("budget_exhausted", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_change_no_notification_announced_is_picked_up_by_the_periodic_comparison()
    {
        await using var sidecar = await RegistrySidecar.StartAsync(Database.ConnectionString, Database.KekPath, fullSyncInterval: TimeSpan.FromMilliseconds(500));
        var (_, keyId, token) = await sidecar.AddKeyAsync();
        using (var served = await sidecar.ResolveUntilAsync(token, HttpStatusCode.OK, PreconditionDeadline))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }

        await TombstoneWithoutNotifyAsync(keyId);
        using var refused = await sidecar.ResolveUntilAsync(token, HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task A_change_no_notification_announced_is_picked_up_from_the_version_a_usage_batch_read()
    {
        // Checks every 2 s; a usage batch's change version stands in for the check's own read for 1 s.
        // Were a newer version in a batch taken for "nothing missed", only every tenth check (20 s)
        // would read every key and find the change.
        await using var sidecar = await RegistrySidecar.StartAsync(Database.ConnectionString, Database.KekPath, fullSyncInterval: TimeSpan.FromSeconds(2));
        var (_, keyId, token) = await sidecar.AddKeyAsync();
        var (_, _, busyToken) = await sidecar.AddKeyAsync();
        foreach (var served in new[] { token, busyToken })
        {
            using var response = await sidecar.ResolveUntilAsync(served, HttpStatusCode.OK, PreconditionDeadline);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using var stopTraffic = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var traffic = Task.Run(
            async () =>
            {
                while (!stopTraffic.IsCancellationRequested)
                {
                    using var resolved = await sidecar.ResolveAsync(busyToken);
                    var decisionId = (await RegistrySidecar.ReadJsonAsync(resolved)).GetProperty("decisionId").GetString();
                    using var reported = await sidecar.Client.PostAsJsonAsync(
                        "/v1/usage", new { decisionId, inputTokens = 1, outputTokens = 1, status = "success" }, stopTraffic.Token);
                    await Task.Delay(TimeSpan.FromMilliseconds(100), stopTraffic.Token);
                }
            },
            stopTraffic.Token);

        await TombstoneWithoutNotifyAsync(keyId);
        using var refused = await sidecar.ResolveUntilAsync(token, HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(8));
        await stopTraffic.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => traffic);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task A_credential_replaced_without_notification_is_served_after_the_periodic_comparison()
    {
        const string Replaced = "sk-registry-upstream-credential-0002";
        await using var sidecar = await RegistrySidecar.StartAsync(Database.ConnectionString, Database.KekPath, fullSyncInterval: TimeSpan.FromMilliseconds(500));
        var (identity, keyId, token) = await sidecar.AddKeyAsync();
        using (var served = await sidecar.ResolveUntilAsync(token, HttpStatusCode.OK, PreconditionDeadline))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }

        await ReplaceCredentialWithoutNotifyAsync(sidecar, identity, keyId, Replaced);
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(10);
        string? credential;
        do
        {
            using var response = await sidecar.ResolveAsync(token);
            credential = (await RegistrySidecar.ReadJsonAsync(response)).GetProperty("provider").GetProperty("credential").GetString();
            if (credential != Replaced)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), Cancel);
            }
        }
        while (credential != Replaced && DateTimeOffset.UtcNow < deadline);

        Assert.True(credential == Replaced, "the sidecar still serves the credential from before the unannounced change");
    }

    /// <summary>A provider Secret's new key written straight into the row, encrypted as the registry does, with no NOTIFY.</summary>
    private async Task ReplaceCredentialWithoutNotifyAsync(RegistrySidecar sidecar, VirtualKeyIdentity identity, string keyId, string credential)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new NpgsqlCommand(
            """
            WITH next AS (UPDATE vk.registry_state SET change_version = change_version + 1 RETURNING change_version),
            key AS (UPDATE vk.virtual_keys SET updated_at = now(), change_version = (SELECT change_version FROM next) WHERE key_id = @keyId RETURNING id)
            UPDATE vk.provider_credentials SET ciphertext = @ciphertext, updated_at = now()
            WHERE virtual_key = (SELECT id FROM key) AND provider_name = 'openai'
            """,
            connection);
        command.Parameters.AddWithValue("keyId", keyId);
        command.Parameters.AddWithValue("ciphertext", sidecar.Registry.Protector.Protect(credential, identity.Uid, "openai"));
        Assert.Equal(1, await command.ExecuteNonQueryAsync(Cancel));
    }

    /// <summary>What a NOTIFY lost on the way looks like to the sidecar: the row changes, nobody is told.</summary>
    private async Task TombstoneWithoutNotifyAsync(string keyId)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new NpgsqlCommand(
            """
            WITH next AS (UPDATE vk.registry_state SET change_version = change_version + 1 RETURNING change_version)
            UPDATE vk.virtual_keys SET state = 'tombstoned', tombstoned_at = now(), updated_at = now(), change_version = (SELECT change_version FROM next)
            WHERE key_id = @keyId
            """,
            connection);
        command.Parameters.AddWithValue("keyId", keyId);
        Assert.Equal(1, await command.ExecuteNonQueryAsync(Cancel));
    }
}
