using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using VirtualKeys.Registry.Keys;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Registry.Usage;
using VirtualKeys.Sidecar.Tests.Support;
using VirtualKeys.Testing;
using RegistryProviderType = VirtualKeys.Registry.Keys.ProviderType;

namespace VirtualKeys.Sidecar.Tests.Registry;

/// <summary>
/// The proxy and the refusals with the key written to a real PostgreSQL registry, encrypted there and
/// read back by the sidecar as the binary does: default model, aliases, allowlist, the decrypted
/// credential in the provider's own scheme, failover between tiers, an Anthropic stream, and each way
/// a key is refused. Usage lands in the registry's totals.
/// </summary>
public sealed class RegistryProxyFlowTests(SidecarRegistryFixture database) : RegistrySidecarTests(database)
{
    private const string OpenAICredential = "sk-flow-openai-credential-0001";
    private const string AnthropicCredential = "sk-ant-flow-anthropic-credential-0002";

    /// <summary>A model no key in this class allows: asking for it tells whether the sidecar serves the key yet, without a decision.</summary>
    private const string ProbeModel = "probe-model-not-allowed";

    [Fact]
    public async Task Proxied_requests_take_the_default_model_aliases_and_the_allowlist_with_the_decrypted_credential_and_are_recorded()
    {
        var (keyId, token) = await AddAsync(
            new VirtualKeyConfig
            {
                DefaultModel = "gpt-4o-mini",
                AllowedModels = ["gpt-4o-mini", "gpt-4o"],
                ModelAliases = new Dictionary<string, string> { ["fast"] = "gpt-4o-mini" },
                Providers = [new ProviderConfig("openai", RegistryProviderType.OpenAI, Sidecar.Upstream.OpenAIBaseUrl)],
            },
            new ProviderCredential("openai", OpenAICredential));

        using var byDefault = await ProxyAsync("/v1/chat/completions", token, Chat(model: null));
        using var byAlias = await ProxyAsync("/v1/chat/completions", token, Chat(model: "fast"));
        using var notAllowed = await ProxyAsync("/v1/chat/completions", token, Chat(model: "gpt-4.1"));

        Assert.Equal(HttpStatusCode.OK, byDefault.StatusCode);
        Assert.Equal(HttpStatusCode.OK, byAlias.StatusCode);
        await ErrorAssert.IsErrorAsync(notAllowed, HttpStatusCode.Forbidden, "model_not_allowed");
        Assert.Equal(2, Sidecar.Upstream.Requests.Count);
        Assert.All(Sidecar.Upstream.Requests, sent =>
        {
            Assert.Equal("gpt-4o-mini", JsonNode.Parse(sent.Body)!["model"]!.GetValue<string>());
            Assert.Equal("Bearer " + OpenAICredential, sent.Header("Authorization"));
        });
        Assert.DoesNotContain(token, string.Join('\n', Sidecar.Upstream.Requests.Select(r => string.Join('\n', r.Headers.Values) + r.Body)), StringComparison.Ordinal);
        var totals = await Sidecar.WaitForUsageAsync(keyId, t => t.Requests >= 2);
        Assert.Equal(2, totals.Requests);
        Assert.True(totals.InputTokens > 0 && totals.OutputTokens > 0 && totals.CostUsd > 0m);
    }

    [Fact]
    public async Task Suspended_expired_and_unknown_keys_are_refused_with_their_status_and_code()
    {
        var providers = new List<ProviderConfig> { new("openai", RegistryProviderType.OpenAI, Sidecar.Upstream.OpenAIBaseUrl) };
        var (_, suspended) = await AddAsync(new VirtualKeyConfig { DefaultModel = "gpt-4o", Suspended = true, Providers = providers }, new ProviderCredential("openai", OpenAICredential));
        var (_, expired) = await AddAsync(
            new VirtualKeyConfig { DefaultModel = "gpt-4o", ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1), Providers = providers },
            new ProviderCredential("openai", OpenAICredential));
        var unknown = VirtualKeyToken.Generate(VirtualKeyId.FromUid(Guid.NewGuid().ToString())).Reveal();

        using var suspendedAnswer = await Sidecar.ResolveAsync(suspended);
        using var expiredAnswer = await Sidecar.ResolveAsync(expired);
        using var unknownAnswer = await Sidecar.ResolveAsync(unknown);
        using var proxiedSuspended = await ProxyAsync("/v1/chat/completions", suspended, Chat(model: null));

        await ErrorAssert.IsErrorAsync(suspendedAnswer, HttpStatusCode.Forbidden, "key_suspended");
        await ErrorAssert.IsErrorAsync(expiredAnswer, HttpStatusCode.Unauthorized, "key_expired");
        await ErrorAssert.IsErrorAsync(unknownAnswer, HttpStatusCode.Unauthorized, "invalid_api_key");
        await ErrorAssert.IsErrorAsync(proxiedSuspended, HttpStatusCode.Forbidden, "key_suspended");
        Assert.Empty(Sidecar.Upstream.Requests);
    }

    [Fact]
    public async Task A_provider_that_refuses_the_connection_fails_over_to_the_next_tier_with_that_tiers_credential()
    {
        var (keyId, token) = await AddAsync(
            new VirtualKeyConfig
            {
                DefaultModel = "gpt-4o",
                AllowedModels = ["gpt-4o"],
                Providers =
                [
                    new ProviderConfig("primary", RegistryProviderType.OpenAI, $"http://127.0.0.1:{LoopbackPorts.Free()}/v1", Priority: 0),
                    new ProviderConfig("backup", RegistryProviderType.OpenAI, Sidecar.Upstream.OpenAIBaseUrl, Priority: 1),
                ],
            },
            new ProviderCredential("primary", "sk-flow-primary-credential-0003"),
            new ProviderCredential("backup", OpenAICredential));

        using var response = await ProxyAsync("/v1/chat/completions", token, Chat(model: null));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Bearer " + OpenAICredential, Assert.Single(Sidecar.Upstream.Requests).Header("Authorization"));
        Assert.Equal(1, (await Sidecar.WaitForUsageAsync(keyId, t => t.Requests >= 1)).Requests);
    }

    [Fact]
    public async Task An_Anthropic_stream_is_relayed_with_the_anthropic_scheme_and_its_usage_recorded()
    {
        var (keyId, token) = await AddAsync(
            new VirtualKeyConfig
            {
                DefaultModel = "claude-3-5-haiku",
                AllowedModels = ["claude-3-5-haiku"],
                Providers = [new ProviderConfig("anthropic", RegistryProviderType.Anthropic, Sidecar.Upstream.RootUrl)],
            },
            new ProviderCredential("anthropic", AnthropicCredential));
        var request = new JsonObject
        {
            ["max_tokens"] = 5,
            ["stream"] = true,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "a b c d" }),
        };

        using var response = await ProxyAsync("/v1/messages", token, request, anthropic: true);
        var text = await response.Content.ReadAsStringAsync(Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("event: message_stop", text, StringComparison.Ordinal);
        var sent = Assert.Single(Sidecar.Upstream.Requests);
        Assert.Equal(AnthropicCredential, sent.Header("x-api-key"));
        Assert.NotNull(sent.Header("anthropic-version"));
        var totals = await Sidecar.WaitForUsageAsync(keyId, t => t.Requests >= 1);
        Assert.Equal(1, totals.Requests);
        Assert.Equal(5, totals.OutputTokens);
    }

    private static JsonObject Chat(string? model)
    {
        var body = new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "say hello to the team" }) };
        if (model is not null)
        {
            body["model"] = model;
        }

        return body;
    }

    /// <summary>Writes the key with one fresh token and waits until the sidecar serves it (NOTIFY).</summary>
    private async Task<(string KeyId, string Token)> AddAsync(VirtualKeyConfig config, params ProviderCredential[] credentials)
    {
        var identity = new VirtualKeyIdentity("ns-" + Guid.NewGuid().ToString("N")[..8], "flow", Guid.NewGuid().ToString());
        var keyId = VirtualKeyId.FromUid(identity.Uid);
        var token = VirtualKeyToken.Generate(keyId);
        await Sidecar.Registry.UpsertAsync(new VirtualKeyUpsert(identity, 1, "spec-1", config, credentials, new TokenChanges([token])), Cancel);

        var revealed = token.Reveal();
        using var bounded = TestSidecar.Within(TimeSpan.FromSeconds(10));
        while (true)
        {
            // An unknown token is invalid_api_key; any other answer (the probe model refused, the key
            // suspended or expired) means the key is served. The probe creates no decision.
            using var probe = await Sidecar.Client.PostAsJsonAsync("/v1/resolve", new { virtualKey = revealed, model = ProbeModel }, bounded.Token);
            if (!(await probe.Content.ReadAsStringAsync(bounded.Token)).Contains("\"invalid_api_key\"", StringComparison.Ordinal))
            {
                return (keyId, revealed);
            }

            await Task.Delay(50, bounded.Token);
        }
    }

    private Task<HttpResponseMessage> ProxyAsync(string path, string token, JsonObject body, bool anthropic = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        if (anthropic)
        {
            request.Headers.Add("x-api-key", token);
        }
        else
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return Sidecar.Client.SendAsync(request, Cancel);
    }
}
