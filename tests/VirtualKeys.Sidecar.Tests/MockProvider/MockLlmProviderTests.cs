using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualKeys.MockProvider;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.MockProvider;

/// <summary>The mock is what the demo and the benchmarks talk to: it must be deterministic and do as told.</summary>
public sealed class MockLlmProviderTests
{
    private static readonly JsonObject Chat = new()
    {
        ["model"] = "gpt-4o",
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "five words are in here" }),
    };

    [Fact]
    public async Task The_same_request_gets_the_same_answer_with_usage_counted_from_the_input()
    {
        await using var mock = await MockLlmProvider.StartAsync(cancellationToken: TestSidecar.Cancel);
        using var client = new HttpClient();

        using var first = await client.PostAsync(mock.OpenAIBaseUrl + "/chat/completions", TestSidecar.Json(Chat.DeepClone()), TestSidecar.Cancel);
        using var second = await client.PostAsync(mock.OpenAIBaseUrl + "/chat/completions", TestSidecar.Json(Chat.DeepClone()), TestSidecar.Cancel);
        var a = JsonNode.Parse(await first.Content.ReadAsStringAsync(TestSidecar.Cancel))!;
        var b = JsonNode.Parse(await second.Content.ReadAsStringAsync(TestSidecar.Cancel))!;

        Assert.Equal(a["choices"]!.ToJsonString(), b["choices"]!.ToJsonString());
        Assert.Equal(5, a["usage"]!["prompt_tokens"]!.GetValue<int>());
        Assert.Equal("gpt-4o", a["model"]!.GetValue<string>());
        Assert.Equal(2, mock.Requests.Count);
    }

    [Fact]
    public async Task Faults_apply_to_the_next_requests_only()
    {
        await using var mock = await MockLlmProvider.StartAsync(cancellationToken: TestSidecar.Cancel);
        using var client = new HttpClient();
        mock.FailNext(2, 503);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.PostAsync(mock.OpenAIBaseUrl + "/chat/completions", TestSidecar.Json(Chat.DeepClone()), TestSidecar.Cancel);
            statuses.Add(response.StatusCode);
        }

        mock.DropNext(1);
        await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync(mock.OpenAIBaseUrl + "/chat/completions", TestSidecar.Json(Chat.DeepClone()), TestSidecar.Cancel));
        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK], statuses);
    }

    [Fact]
    public async Task A_mock_expecting_a_credential_refuses_others_and_records_what_arrived()
    {
        await using var mock = await MockLlmProvider.StartAsync(new MockLlmProviderOptions { ExpectedCredential = "sk-right" }, TestSidecar.Cancel);
        using var client = new HttpClient();
        using var wrong = new HttpRequestMessage(HttpMethod.Post, mock.OpenAIBaseUrl + "/chat/completions") { Content = TestSidecar.Json(Chat.DeepClone()) };
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-wrong");
        using var right = new HttpRequestMessage(HttpMethod.Post, mock.RootUrl + "/v1/messages") { Content = TestSidecar.Json(new JsonObject { ["model"] = "claude-3-5-haiku", ["max_tokens"] = 3 }) };
        right.Headers.Add("x-api-key", "sk-right");

        using var refused = await client.SendAsync(wrong, TestSidecar.Cancel);
        using var accepted = await client.SendAsync(right, TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal("Bearer sk-wrong", mock.Requests[0].Header("authorization"));
        Assert.Equal(3, JsonDocument.Parse(await accepted.Content.ReadAsStringAsync(TestSidecar.Cancel)).RootElement.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    [Fact]
    public async Task Azure_paths_need_an_api_version_and_echo_the_deployment()
    {
        await using var mock = await MockLlmProvider.StartAsync(cancellationToken: TestSidecar.Cancel);
        using var client = new HttpClient();
        var body = new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }) };

        using var missing = await client.PostAsync(mock.RootUrl + "/openai/deployments/my-gpt/chat/completions", TestSidecar.Json(body.DeepClone()), TestSidecar.Cancel);
        using var served = await client.PostAsync(mock.RootUrl + "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21", TestSidecar.Json(body.DeepClone()), TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("my-gpt", JsonDocument.Parse(await served.Content.ReadAsStringAsync(TestSidecar.Cancel)).RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public async Task Streams_end_with_a_usage_chunk_only_when_asked()
    {
        await using var mock = await MockLlmProvider.StartAsync(cancellationToken: TestSidecar.Cancel);
        using var client = new HttpClient();
        var plain = (JsonObject)Chat.DeepClone();
        plain["stream"] = true;
        var withUsage = (JsonObject)plain.DeepClone();
        withUsage["stream_options"] = new JsonObject { ["include_usage"] = true };

        using var without = await client.PostAsync(mock.OpenAIBaseUrl + "/chat/completions", TestSidecar.Json(plain), TestSidecar.Cancel);
        using var with = await client.PostAsync(mock.OpenAIBaseUrl + "/chat/completions", TestSidecar.Json(withUsage), TestSidecar.Cancel);
        var withoutText = await without.Content.ReadAsStringAsync(TestSidecar.Cancel);
        var withText = await with.Content.ReadAsStringAsync(TestSidecar.Cancel);

        Assert.DoesNotContain("\"usage\"", withoutText, StringComparison.Ordinal);
        Assert.Contains("\"usage\":{\"prompt_tokens\":5", withText, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", withText, StringComparison.Ordinal);
    }
}
