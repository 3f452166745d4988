using System.Text.Json.Nodes;
using VirtualKeys.Registry.Tokens;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Hosting;

/// <summary>No token or provider credential in a log line, a metric, or an error body, whatever happens.</summary>
public sealed class SecretHygieneTests
{
    private const string OpenAICredential = "sk-hygiene-openai-7f3a9c2e";
    private const string AnthropicCredential = "sk-ant-hygiene-anthropic-51d0b7";
    private const string MistakenProviderKey = "sk-proj-client-sent-this-by-mistake-9e8d7c";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Secrets_never_reach_logs_metrics_or_error_bodies(bool verboseFramework)
    {
        await using var sidecar = await TestSidecar.StartAsync(verboseFramework: verboseFramework);
        var (entry, token) = await sidecar.AddKeyAsync(providers:
        [
            TestKeys.OpenAI(sidecar.Upstream.OpenAIBaseUrl, credential: OpenAICredential, priority: 0),
            TestKeys.Anthropic(sidecar.Upstream.RootUrl, credential: AnthropicCredential, name: "claude", priority: 1),
        ]);
        var forged = VirtualKeyToken.Generate(entry.KeyId).Reveal();
        var bodies = new List<string>();

        async Task Send(Task<HttpResponseMessage> call)
        {
            using var response = await call;
            bodies.Add(await response.Content.ReadAsStringAsync(TestSidecar.Cancel));
        }

        var chat = new JsonObject { ["model"] = "gpt-4o", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }) };
        await Send(sidecar.ResolveAsync(token, "gpt-4o"));
        await Send(sidecar.ResolveAsync(forged, "gpt-4o"));
        await Send(sidecar.ResolveAsync(MistakenProviderKey, "gpt-4o"));
        await Send(sidecar.ResolveAsync(token, token));
        await Send(sidecar.ProxyAsync("/v1/chat/completions", token, chat));
        await Send(sidecar.ProxyAsync("/v1/chat/completions", forged, chat));
        await Send(sidecar.ProxyAsync("/v1/chat/completions", MistakenProviderKey, chat));
        await Send(sidecar.ProxyAsync("/v1/chat/completions", token, new JsonObject { ["model"] = "gpt-4o", ["stream"] = true }));
        await Send(sidecar.ProxyAsync("/v1/messages", token, new JsonObject { ["model"] = "claude-sonnet-4", ["max_tokens"] = 5 }, anthropicHeader: true));
        sidecar.Upstream.FailNext(1, 401);
        await Send(sidecar.ProxyAsync("/v1/chat/completions", token, chat));
        sidecar.Upstream.FailNext(1, 500);
        await Send(sidecar.ProxyAsync("/v1/chat/completions", token, chat));
        if (!verboseFramework)
        {
            // A client that puts its key in the URL: the framework's request logging is what would show it.
            await Send(sidecar.Client.PostAsync($"/v1/chat/completions?api_key={token}", TestSidecar.Json(chat), TestSidecar.Cancel));
            await Send(sidecar.Client.GetAsync($"/v1/{token}", TestSidecar.Cancel));
        }

        var metrics = await sidecar.MetricsAsync();
        await sidecar.Host.StopAsync(TestSidecar.Cancel);
        var logs = sidecar.Logs.All;

        Assert.NotEmpty(sidecar.Logs.Lines);
        foreach (var secret in new[] { token, forged, OpenAICredential, AnthropicCredential, MistakenProviderKey })
        {
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, metrics, StringComparison.Ordinal);
        }

        foreach (var body in bodies.Where(b => !b.Contains("decisionId", StringComparison.Ordinal)))
        {
            foreach (var secret in new[] { token, forged, OpenAICredential, AnthropicCredential, MistakenProviderKey })
            {
                Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
            }
        }

        // The token's secret part alone must not show up either.
        Assert.DoesNotContain(token[20..], logs, StringComparison.Ordinal);
    }
}
