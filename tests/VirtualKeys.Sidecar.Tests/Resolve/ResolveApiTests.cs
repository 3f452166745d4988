using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Resolve;

public sealed class ResolveApiTests
{
    [Fact]
    public async Task Resolve_returns_the_decision_with_the_real_credential_and_headers()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (entry, token) = await sidecar.AddKeyAsync("checkout");

        using var response = await sidecar.ResolveAsync(token, "gpt-4o");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await TestSidecar.ReadJsonAsync(response);
        Assert.False(string.IsNullOrEmpty(body.GetProperty("decisionId").GetString()));
        Assert.Equal("team-a", body.GetProperty("key").GetProperty("namespace").GetString());
        Assert.Equal("checkout", body.GetProperty("key").GetProperty("name").GetString());
        Assert.Equal(entry.KeyId, body.GetProperty("key").GetProperty("id").GetString());
        Assert.Equal("gpt-4o", body.GetProperty("model").GetString());
        var provider = body.GetProperty("provider");
        Assert.Equal("OpenAI", provider.GetProperty("type").GetString());
        Assert.Equal(sidecar.Upstream.OpenAIBaseUrl, provider.GetProperty("baseUrl").GetString());
        Assert.Equal("sk-real-openai-credential-0001", provider.GetProperty("credential").GetString());
        Assert.Equal("Bearer sk-real-openai-credential-0001", provider.GetProperty("authHeaders").GetProperty("Authorization").GetString());
        Assert.Equal(0, body.GetProperty("fallbacks").GetArrayLength());
    }

    [Fact]
    public async Task Resolve_applies_the_default_model_when_none_is_requested()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(defaultModel: "gpt-4.1-mini"));

        using var response = await sidecar.ResolveAsync(token);

        var body = await TestSidecar.ReadJsonAsync(response);
        Assert.Equal("gpt-4.1-mini", body.GetProperty("model").GetString());
    }

    [Fact]
    public async Task Resolve_turns_an_alias_into_its_model()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(
            aliases: new Dictionary<string, string> { ["fast"] = "gpt-4o-mini" },
            allowedModels: ["gpt-4o-mini"]));

        using var response = await sidecar.ResolveAsync(token, "fast");

        var body = await TestSidecar.ReadJsonAsync(response);
        Assert.Equal("gpt-4o-mini", body.GetProperty("model").GetString());
    }

    [Fact]
    public async Task Resolve_refuses_a_model_outside_the_allowlist_with_403()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(allowedModels: ["gpt-4o-mini"]));

        using var response = await sidecar.ResolveAsync(token, "gpt-4o");

        var error = await ErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "model_not_allowed");
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Contains("gpt-4o", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resolve_refuses_a_model_no_provider_serves_with_404()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.OpenAI("http://127.0.0.1:1/v1", models: ["gpt-4o"])]);

        using var response = await sidecar.ResolveAsync(token, "gpt-4.1");

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, "model_not_found");
    }

    [Fact]
    public async Task Resolve_refuses_without_a_model_when_the_key_has_no_default()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => new VirtualKeyEntry
        {
            KeyId = e.KeyId,
            Namespace = e.Namespace,
            Name = e.Name,
            Providers = e.Providers,
            TokenHashes = e.TokenHashes,
        });

        using var response = await sidecar.ResolveAsync(token);

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "model_required");
    }

    [Fact]
    public async Task Resolve_accepts_the_key_as_a_bearer_header()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/resolve") { Content = TestSidecar.Json(new JsonObject { ["model"] = "gpt-4o" }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

        using var response = await sidecar.Client.SendAsync(request, TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(ProviderType.AzureOpenAI, "api-key", "azure-real-credential")]
    [InlineData(ProviderType.Anthropic, "x-api-key", "azure-real-credential")]
    [InlineData(ProviderType.Gemini, "x-goog-api-key", "azure-real-credential")]
    [InlineData(ProviderType.OpenAICompatible, "Authorization", "Bearer azure-real-credential")]
    public async Task Resolve_gives_each_provider_type_its_own_auth_headers(ProviderType type, string header, string value)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.Of(type, "https://llm.example.test", "azure-real-credential", "p1", apiVersion: "2025-01-01-preview")]);

        using var response = await sidecar.ResolveAsync(token, "gpt-4o");

        var provider = (await TestSidecar.ReadJsonAsync(response)).GetProperty("provider");
        var headers = provider.GetProperty("authHeaders");
        Assert.Equal(value, headers.GetProperty(header).GetString());
        switch (type)
        {
            case ProviderType.AzureOpenAI:
                Assert.Equal("https://llm.example.test/openai/deployments/gpt-4o", provider.GetProperty("baseUrl").GetString());
                Assert.Equal("2025-01-01-preview", provider.GetProperty("apiVersion").GetString());
                break;
            case ProviderType.Anthropic:
                Assert.Equal("2023-06-01", headers.GetProperty("anthropic-version").GetString());
                break;
        }
    }

    [Fact]
    public async Task Resolve_orders_fallbacks_by_priority_tier()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers:
        [
            TestKeys.OpenAI("http://127.0.0.1:1/v1", name: "backup", priority: 2),
            TestKeys.OpenAI("http://127.0.0.1:2/v1", name: "primary", priority: 0),
            TestKeys.OpenAI("http://127.0.0.1:3/v1", name: "secondary", priority: 1),
        ]);

        using var response = await sidecar.ResolveAsync(token, "gpt-4o");

        var body = await TestSidecar.ReadJsonAsync(response);
        Assert.Equal("primary", body.GetProperty("provider").GetProperty("name").GetString());
        Assert.Equal(["secondary", "backup"], body.GetProperty("fallbacks").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Resolve_shares_a_tier_by_weight_and_keeps_weight_zero_as_standby()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers:
        [
            TestKeys.OpenAI("http://127.0.0.1:1/v1", name: "heavy", weight: 4),
            TestKeys.OpenAI("http://127.0.0.1:2/v1", name: "light", weight: 1),
            TestKeys.OpenAI("http://127.0.0.1:3/v1", name: "standby", weight: 0),
        ]);

        var firsts = new Dictionary<string, int>();
        for (var i = 0; i < 300; i++)
        {
            using var response = await sidecar.ResolveAsync(token, "gpt-4o", maxOutputTokens: 1);
            var body = await TestSidecar.ReadJsonAsync(response);
            var first = body.GetProperty("provider").GetProperty("name").GetString()!;
            firsts[first] = firsts.GetValueOrDefault(first) + 1;
            Assert.Equal("standby", body.GetProperty("fallbacks")[1].GetProperty("name").GetString());
            using var report = await sidecar.ReportAsync(body.GetProperty("decisionId").GetString()!, 1, 1);
        }

        Assert.False(firsts.ContainsKey("standby"));
        Assert.True(firsts.GetValueOrDefault("light") > 0, "the lighter provider never came first");
        Assert.True(firsts["heavy"] > 2 * firsts["light"], $"heavy {firsts["heavy"]} vs light {firsts["light"]}");
    }

    [Fact]
    public async Task An_unknown_token_is_refused_with_401()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        await sidecar.AddKeyAsync();
        var stranger = VirtualKeyToken.Generate(VirtualKeyId.FromUid("someone-else")).Reveal();

        using var response = await sidecar.ResolveAsync(stranger, "gpt-4o");

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key");
    }

    [Fact]
    public async Task A_wrong_secret_for_a_known_key_is_refused_with_401()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (entry, _) = await sidecar.AddKeyAsync();
        var forged = VirtualKeyToken.Generate(entry.KeyId).Reveal();

        using var response = await sidecar.ResolveAsync(forged, "gpt-4o");

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key");
    }

    [Fact]
    public async Task A_provider_key_sent_by_mistake_is_refused_without_being_echoed()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        const string providerKey = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";

        using var response = await sidecar.ResolveAsync(providerKey, "gpt-4o");

        var error = await ErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key");
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("vk_", message, StringComparison.Ordinal);
        Assert.DoesNotContain(providerKey, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_key_at_all_is_refused_with_401()
    {
        await using var sidecar = await TestSidecar.StartAsync();

        using var response = await sidecar.ResolveAsync(null, "gpt-4o");

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
    }

    [Fact]
    public async Task An_expired_key_is_refused_with_401_from_its_expiry_on()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(expiresAt: TestSidecar.Start.AddHours(1)));

        using (var before = await sidecar.ResolveAsync(token, "gpt-4o"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        sidecar.Time.Advance(TimeSpan.FromHours(1));
        using var after = await sidecar.ResolveAsync(token, "gpt-4o");

        await ErrorAssert.IsErrorAsync(after, HttpStatusCode.Unauthorized, "key_expired");
    }

    [Fact]
    public async Task A_suspended_key_is_refused_with_403()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(state: KeyState.Suspended));

        using var response = await sidecar.ResolveAsync(token, "gpt-4o");

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "key_suspended");
    }

    [Fact]
    public async Task A_tombstoned_key_is_refused_with_401()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(state: KeyState.Tombstoned));

        using var response = await sidecar.ResolveAsync(token, "gpt-4o");

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key");
    }

    [Fact]
    public async Task A_rotated_out_token_works_until_its_grace_period_ends()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (entry, oldToken) = await sidecar.AddKeyAsync();
        var newToken = VirtualKeyToken.Generate(entry.KeyId).Reveal();
        var graceEnd = TestSidecar.Start.AddMinutes(30);
        await sidecar.Keys.UpsertAsync(entry.With(tokenHashes: [TokenHash.FromToken(oldToken, graceEnd), TokenHash.FromToken(newToken)]), TestSidecar.Cancel);

        using (var inGrace = await sidecar.ResolveAsync(oldToken, "gpt-4o"))
        {
            Assert.Equal(HttpStatusCode.OK, inGrace.StatusCode);
        }

        sidecar.Time.Advance(TimeSpan.FromMinutes(30));
        using var afterGrace = await sidecar.ResolveAsync(oldToken, "gpt-4o");
        using var fresh = await sidecar.ResolveAsync(newToken, "gpt-4o");

        var error = await ErrorAssert.IsErrorAsync(afterGrace, HttpStatusCode.Unauthorized, "invalid_api_key");
        Assert.Contains("rotated", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task A_change_in_the_registry_applies_to_the_next_request()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (entry, token) = await sidecar.AddKeyAsync();

        await sidecar.Keys.UpsertAsync(entry.With(state: KeyState.Suspended), TestSidecar.Cancel);
        using (var suspended = await sidecar.ResolveAsync(token, "gpt-4o"))
        {
            await ErrorAssert.IsErrorAsync(suspended, HttpStatusCode.Forbidden, "key_suspended");
        }

        await sidecar.Keys.RemoveAsync(entry.KeyId, TestSidecar.Cancel);
        using var removed = await sidecar.ResolveAsync(token, "gpt-4o");
        await ErrorAssert.IsErrorAsync(removed, HttpStatusCode.Unauthorized, "invalid_api_key");
    }

    [Fact]
    public async Task Before_the_first_snapshot_requests_get_503_and_readyz_is_not_ready()
    {
        var keys = new InMemoryKeySnapshotSource();
        keys.HoldLoads();
        await using var sidecar = await TestSidecar.StartAsync(keys: keys, waitForSnapshot: false);
        var (entry, token) = TestKeys.Create("late", [TestKeys.OpenAI(sidecar.Upstream.OpenAIBaseUrl)]);
        await keys.UpsertAsync(entry, TestSidecar.Cancel);

        using (var early = await sidecar.ResolveAsync(token, "gpt-4o"))
        {
            await ErrorAssert.IsErrorAsync(early, HttpStatusCode.ServiceUnavailable, "not_ready");
        }

        using (var notReady = await sidecar.Client.GetAsync("/readyz", TestSidecar.Cancel))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            Assert.Equal("not_ready", (await TestSidecar.ReadJsonAsync(notReady)).GetProperty("status").GetString());
        }

        keys.ReleaseLoads();
        await sidecar.Host.WaitForSnapshotAsync(TestSidecar.Cancel);

        using var ready = await sidecar.Client.GetAsync("/readyz", TestSidecar.Cancel);
        using var served = await sidecar.ResolveAsync(token, "gpt-4o");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(1, (await TestSidecar.ReadJsonAsync(ready)).GetProperty("keys").GetInt32());
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }
}
