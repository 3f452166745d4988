using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualKeys.MockProvider;
using VirtualKeys.Sidecar.Metering;
using VirtualKeys.Sidecar.Snapshot;
using VirtualKeys.Sidecar.Tests.Support;
using VirtualKeys.Testing;

namespace VirtualKeys.Sidecar.Tests.Proxy;

public sealed class ProxyTests
{
    private static JsonObject Chat(string? model = null, bool stream = false)
    {
        var body = new JsonObject
        {
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "say hello to the whole team" }),
        };
        if (model is not null)
        {
            body["model"] = model;
        }

        if (stream)
        {
            body["stream"] = true;
        }

        return body;
    }

    [Fact]
    public async Task Chat_completions_are_forwarded_with_the_default_model_and_the_real_credential()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(defaultModel: "gpt-4.1-mini"));

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat(), customize: r =>
        {
            r.Headers.Add("OpenAI-Organization", "org-of-the-caller");
            r.Headers.Add("Cookie", "session=abc");
            r.Headers.Add("x-request-tag", "kept");
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await TestSidecar.ReadJsonAsync(response);
        Assert.Equal("gpt-4.1-mini", body.GetProperty("model").GetString());
        Assert.Equal("assistant", body.GetProperty("choices")[0].GetProperty("message").GetProperty("role").GetString());

        var upstream = Assert.Single(sidecar.Upstream.Requests);
        Assert.Equal("/v1/chat/completions", upstream.Path);
        Assert.Equal("gpt-4.1-mini", upstream.Model);
        Assert.Equal("Bearer sk-real-openai-credential-0001", upstream.Header("Authorization"));
        Assert.Null(upstream.Header("OpenAI-Organization"));
        Assert.Null(upstream.Header("Cookie"));
        Assert.Equal("kept", upstream.Header("x-request-tag"));
        Assert.DoesNotContain(upstream.Headers, h => h.Value.Contains(token, StringComparison.Ordinal));
        Assert.DoesNotContain(token, upstream.Body, StringComparison.Ordinal);

        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        var usage = body.GetProperty("usage");
        Assert.Equal(UsageOutcome.Success, record.Outcome);
        Assert.Equal("gpt-4.1-mini", record.Model);
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt64(), record.InputTokens);
        Assert.Equal(usage.GetProperty("completion_tokens").GetInt64(), record.OutputTokens);
        Assert.False(record.Estimated);
        Assert.True(record.CostUsd > 0);
    }

    [Fact]
    public async Task An_alias_in_the_body_is_replaced_by_its_model()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(aliases: new Dictionary<string, string> { ["smart"] = "gpt-4.1" }));

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("smart"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(sidecar.Upstream.Requests);
        Assert.Equal("gpt-4.1", sent.Model);
        Assert.Equal("say hello to the whole team", JsonNode.Parse(sent.Body)!["messages"]![0]!["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_model_outside_the_allowlist_never_reaches_the_provider()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(allowedModels: ["gpt-4o-mini"]));

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("o3"));

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.Forbidden, "model_not_allowed");
        Assert.Empty(sidecar.Upstream.Requests);
    }

    [Fact]
    public async Task Limits_apply_to_proxied_requests_too()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(RequestsPerMinute: 1)));

        using var first = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat());
        using var second = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat());

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await ErrorAssert.IsErrorAsync(second, HttpStatusCode.TooManyRequests, "rate_limit_rpm");
        Assert.Single(sidecar.Upstream.Requests);
    }

    [Fact]
    public async Task Anthropic_messages_use_x_api_key_both_ways_and_keep_the_anthropic_shape()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(
            customize: e => e.With(defaultModel: "claude-sonnet-4"),
            providers: [TestKeys.Anthropic(sidecar.Upstream.RootUrl)]);
        var request = new JsonObject
        {
            ["max_tokens"] = 64,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "one two three" }),
        };

        using var response = await sidecar.ProxyAsync("/v1/messages", token, request, anthropicHeader: true, customize: r => r.Headers.Add("anthropic-version", "2023-06-01"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await TestSidecar.ReadJsonAsync(response);
        Assert.Equal("message", body.GetProperty("type").GetString());
        Assert.Equal("claude-sonnet-4", body.GetProperty("model").GetString());
        var sent = Assert.Single(sidecar.Upstream.Requests);
        Assert.Equal("/v1/messages", sent.Path);
        Assert.Equal("sk-ant-real-anthropic-credential-0002", sent.Header("x-api-key"));
        Assert.Equal("2023-06-01", sent.Header("anthropic-version"));
        Assert.Null(sent.Header("Authorization"));

        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(3, record.InputTokens);
        Assert.Equal(body.GetProperty("usage").GetProperty("output_tokens").GetInt64(), record.OutputTokens);
    }

    // Anthropic's tool_use input is an object in the answer; a tool that records usage figures of its own
    // must not have them charged as the answer's.
    [Fact]
    public async Task An_Anthropic_tool_call_whose_input_has_usage_of_its_own_is_charged_for_the_answers_usage_only()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(defaultModel: "claude-sonnet-4"), providers: [TestKeys.Anthropic(sidecar.Upstream.RootUrl)]);
        sidecar.Upstream.ToolUseInput = new JsonObject
        {
            ["job"] = "nightly-summary",
            ["usage"] = new JsonObject { ["input_tokens"] = 900_000, ["cache_creation_input_tokens"] = 50_000, ["output_tokens"] = 70_000 },
        };
        var request = new JsonObject
        {
            ["max_tokens"] = 64,
            ["tools"] = new JsonArray(new JsonObject { ["name"] = "record_job", ["input_schema"] = new JsonObject { ["type"] = "object" } }),
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "record the nightly job" }),
        };

        using var response = await sidecar.ProxyAsync("/v1/messages", token, request, anthropicHeader: true);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await TestSidecar.ReadJsonAsync(response);
        Assert.Equal(900_000, body.GetProperty("content")[1].GetProperty("input").GetProperty("usage").GetProperty("input_tokens").GetInt64());
        var usage = body.GetProperty("usage");
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal((usage.GetProperty("input_tokens").GetInt64(), usage.GetProperty("output_tokens").GetInt64()), (record.InputTokens, record.OutputTokens));
        Assert.False(record.Estimated);
    }

    [Fact]
    public async Task Anthropic_refusals_carry_the_anthropic_error_type()
    {
        await using var sidecar = await TestSidecar.StartAsync();

        using var response = await sidecar.ProxyAsync("/v1/messages", "not-a-key", new JsonObject { ["max_tokens"] = 1 }, anthropicHeader: true);

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key");
        Assert.Equal("error", (await TestSidecar.ReadJsonAsync(response)).GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_OpenAI_shaped_request_is_not_sent_to_an_Anthropic_only_key()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.Anthropic(sidecar.Upstream.RootUrl)]);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("claude-sonnet-4"));

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "no_compatible_provider");
        Assert.Empty(sidecar.Upstream.Requests);
    }

    // Gemini's OpenAI-compatible API has chat completions and embeddings, not legacy completions or the
    // Responses API: such a request is refused here instead of reaching Gemini for its 404, or, as a
    // fallback tier, turning a failover into Gemini's 404 for the client.
    [Theory]
    [InlineData("/v1/responses")]
    [InlineData("/v1/completions")]
    public async Task A_route_Gemini_does_not_serve_is_not_sent_to_a_Gemini_provider(string path)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var gemini = TestKeys.Of(ProviderType.Gemini, sidecar.Upstream.RootUrl, "gemini-real-key", "gemini");
        var (_, token) = await sidecar.AddKeyAsync(providers: [gemini]);
        var body = new JsonObject { ["model"] = "gemini-2.5-flash", ["input"] = "hi", ["prompt"] = "hi" };

        using var refused = await sidecar.ProxyAsync(path, token, body);
        using var chat = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gemini-2.5-flash"));

        await ErrorAssert.IsErrorAsync(refused, HttpStatusCode.BadRequest, "no_compatible_provider");
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Equal(["/chat/completions"], sidecar.Upstream.Requests.Select(r => r.Path));
    }

    [Fact]
    public async Task A_Responses_API_request_fails_over_past_a_Gemini_tier_to_one_that_serves_it()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var gemini = TestKeys.Of(ProviderType.Gemini, sidecar.Upstream.RootUrl, "gemini-real-key", "gemini", priority: 0);
        var openai = TestKeys.OpenAI(sidecar.Upstream.RootUrl, name: "openai", priority: 1);
        var (_, token) = await sidecar.AddKeyAsync(providers: [gemini, openai]);

        using var response = await sidecar.ProxyAsync("/v1/responses", token, new JsonObject { ["model"] = "gpt-4o", ["input"] = "hi" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(sidecar.Upstream.Requests);
        Assert.Equal("Bearer sk-real-openai-credential-0001", sent.Header("Authorization"));
    }

    // A provider may send a header value that is not ASCII (here "café" in UTF-8). It passes through
    // byte for byte, and the answer with it: Kestrel refused such a value, which made the answer a 500.
    [Fact]
    public async Task A_provider_header_that_is_not_ascii_passes_through_byte_for_byte_with_the_answer()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var answer = """{"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"""u8.ToArray();
        byte[] note = [.. "caf"u8, 0xC3, 0xA9];
        var upstream = Task.Run(async () =>
        {
            using var connection = await listener.AcceptTcpClientAsync(TestSidecar.Cancel);
            var stream = connection.GetStream();
            await ReadRequestAsync(stream);
            byte[] head = [.. "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-note: "u8, .. note, .. Encoding.ASCII.GetBytes($"\r\nContent-Length: {answer.Length}\r\nConnection: close\r\n\r\n")];
            await stream.WriteAsync(head, TestSidecar.Cancel);
            await stream.WriteAsync(answer, TestSidecar.Cancel);
        }, TestSidecar.Cancel);
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.OpenAI($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/v1")]);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));
        await upstream;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(answer, await response.Content.ReadAsByteArrayAsync(TestSidecar.Cancel));
        Assert.Equal(note, Encoding.Latin1.GetBytes(Assert.Single(response.Headers.NonValidated["x-note"])));
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal((5, 7), (record.InputTokens, record.OutputTokens));
    }

    // A provider that refused the request charges nothing for it: a client that hangs up while the
    // error body is relayed is not charged the input estimate (it was, as if the provider went on).
    [Fact]
    public async Task A_client_that_hangs_up_during_a_relayed_error_is_not_charged()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var hungUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstream = Task.Run(async () =>
        {
            using var connection = await listener.AcceptTcpClientAsync(TestSidecar.Cancel);
            var stream = connection.GetStream();
            await ReadRequestAsync(stream);
            var head = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"error\":{\"message\":\"bad"u8.ToArray();
            await stream.WriteAsync(head, TestSidecar.Cancel);
            await hungUp.Task.WaitAsync(TestSidecar.Cancel);
        }, TestSidecar.Cancel);
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.OpenAI($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/v1")]);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = TestSidecar.Json(Chat("gpt-4o")) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        using (var response = await sidecar.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestSidecar.Cancel))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        hungUp.SetResult();
        await upstream;
        Assert.Equal(UsageOutcome.Cancelled, record.Outcome);
        Assert.Equal((0, 0, 0m, false), (record.InputTokens, record.OutputTokens, record.CostUsd, record.Estimated));
    }

    [Fact]
    public async Task Azure_gets_its_deployment_url_api_version_and_api_key_header()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.Of(ProviderType.AzureOpenAI, sidecar.Upstream.RootUrl, "azure-real-key", "azure", apiVersion: "2024-10-21")]);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(sidecar.Upstream.Requests);
        Assert.Equal("/openai/deployments/gpt-4o/chat/completions", sent.Path);
        Assert.Equal("?api-version=2024-10-21", sent.Query);
        Assert.Equal("azure-real-key", sent.Header("api-key"));
        Assert.Null(sent.Header("Authorization"));
    }

    // Azure serves the Responses API at /openai/v1/responses (its v1 API), not per deployment and not
    // with the deployments' api-version: the deployment is the body's model.
    [Fact]
    public async Task Azure_gets_the_responses_api_at_its_v1_url_with_the_deployment_as_the_model()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.Of(ProviderType.AzureOpenAI, sidecar.Upstream.RootUrl, "azure-real-key", "azure", apiVersion: "2024-10-21")]);

        using var response = await sidecar.ProxyAsync("/v1/responses", token, new JsonObject { ["model"] = "gpt-4o", ["input"] = "say hello" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(sidecar.Upstream.Requests);
        Assert.Equal("/openai/v1/responses", sent.Path);
        Assert.Equal("", sent.Query);
        Assert.Equal("gpt-4o", JsonNode.Parse(sent.Body)!["model"]!.GetValue<string>());
        Assert.Equal("azure-real-key", sent.Header("api-key"));
        Assert.True(Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0)).OutputTokens > 0);
    }

    [Theory]
    [InlineData(ProviderType.Gemini, "x-goog-api-key", "gemini-real-key")]
    [InlineData(ProviderType.OpenAICompatible, "Authorization", "Bearer gemini-real-key")]
    public async Task Gemini_and_compatible_providers_get_their_own_auth_header(ProviderType type, string header, string value)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.Of(type, sidecar.Upstream.OpenAIBaseUrl, "gemini-real-key", "p")]);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gemini-2.5-flash"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(sidecar.Upstream.Requests);
        Assert.Equal(value, sent.Header(header));
        Assert.Equal(type == ProviderType.Gemini ? null : value, sent.Header("Authorization"));
    }

    [Fact]
    public async Task A_stream_passes_through_chunk_by_chunk_and_its_usage_is_metered()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Upstream.PauseStreamsAfterFirstChunk();

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o", stream: true));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(TestSidecar.Cancel));
        using var bounded = TestSidecar.Within(TimeSpan.FromSeconds(20));

        // The provider holds the rest back: these events can only arrive if nothing is buffered.
        var firstEvents = new List<string>();
        while (firstEvents.Count < 2)
        {
            var line = await reader.ReadLineAsync(bounded.Token);
            Assert.NotNull(line);
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                firstEvents.Add(line);
            }
        }

        Assert.Contains("\"content\":\"This \"", firstEvents[1], StringComparison.Ordinal);
        sidecar.Upstream.ResumeStreams();
        var rest = await reader.ReadToEndAsync(bounded.Token);
        Assert.EndsWith("data: [DONE]\n\n", rest, StringComparison.Ordinal);

        // The sidecar asked for usage in the stream and metered it from the final chunk.
        var sent = JsonNode.Parse(Assert.Single(sidecar.Upstream.Requests).Body)!;
        Assert.True(sent["stream_options"]!["include_usage"]!.GetValue<bool>());
        var usageLine = rest.Split('\n').Single(l => l.Contains("\"usage\":{", StringComparison.Ordinal));
        var usage = JsonDocument.Parse(usageLine["data: ".Length..]).RootElement.GetProperty("usage");
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt64(), record.InputTokens);
        Assert.Equal(usage.GetProperty("completion_tokens").GetInt64(), record.OutputTokens);
        Assert.False(record.Estimated);
    }

    // Options a client sets for itself (here OpenAI's include_obfuscation) keep theirs, and gain
    // include_usage, so the stream is still metered from the provider's own counts.
    [Fact]
    public async Task Stream_options_without_include_usage_gain_it_and_the_stream_is_metered_from_the_provider()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        var body = Chat("gpt-4o", stream: true);
        body["stream_options"] = new JsonObject { ["include_obfuscation"] = false };

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, body);
        var rest = await response.Content.ReadAsStringAsync(TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var options = JsonNode.Parse(Assert.Single(sidecar.Upstream.Requests).Body)!["stream_options"]!;
        Assert.Equal("""{"include_usage":true,"include_obfuscation":false}""", options.ToJsonString());
        var usage = JsonDocument.Parse(rest.Split('\n').Single(l => l.Contains("\"usage\":{", StringComparison.Ordinal))["data: ".Length..]).RootElement.GetProperty("usage");
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal((usage.GetProperty("prompt_tokens").GetInt64(), usage.GetProperty("completion_tokens").GetInt64()), (record.InputTokens, record.OutputTokens));
        Assert.False(record.Estimated);
    }

    // A 200 KB image is about 50,000 tokens at four bytes a token, which a 20,000 TPM key could never
    // admit; providers count it by its pixels (at most about 1,600 tokens), and so does the estimate.
    [Fact]
    public async Task A_request_with_a_large_image_is_estimated_by_the_image_not_by_its_base64_bytes()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(defaultModel: "gpt-4o", limits: new KeyLimits(TokensPerMinute: 20_000)));
        var image = "data:image/png;base64," + Convert.ToBase64String(new byte[150_000]);
        var body = new JsonObject
        {
            ["max_tokens"] = 100,
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "what is in this picture?" },
                    new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = image } }),
            }),
        };

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(sidecar.Upstream.Requests);
    }

    [Fact]
    public async Task An_Anthropic_stream_is_metered_from_message_start_and_message_delta()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(defaultModel: "claude-3-5-haiku"), providers: [TestKeys.Anthropic(sidecar.Upstream.RootUrl)]);
        var request = new JsonObject
        {
            ["max_tokens"] = 5,
            ["stream"] = true,
            ["system"] = "be brief",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "a b c d" }) }),
        };

        using var response = await sidecar.ProxyAsync("/v1/messages", token, request, anthropicHeader: true);
        var text = await response.Content.ReadAsStringAsync(TestSidecar.Cancel);

        Assert.Contains("event: message_stop", text, StringComparison.Ordinal);
        Assert.DoesNotContain("stream_options", Assert.Single(sidecar.Upstream.Requests).Body, StringComparison.Ordinal);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal((6L, 5L), (record.InputTokens, record.OutputTokens));
    }

    [Fact]
    public async Task A_Responses_API_stream_is_metered_from_response_completed()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();

        using var response = await sidecar.ProxyAsync("/v1/responses", token, new JsonObject { ["model"] = "gpt-4.1", ["input"] = "three little words", ["stream"] = true });
        var text = await response.Content.ReadAsStringAsync(TestSidecar.Cancel);

        Assert.Contains("event: response.completed", text, StringComparison.Ordinal);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(3, record.InputTokens);
        Assert.True(record.OutputTokens > 0);
        Assert.False(record.Estimated);
    }

    [Theory]
    [InlineData("/v1/completions", "prompt")]
    [InlineData("/v1/embeddings", "input")]
    [InlineData("/v1/responses", "input")]
    public async Task Other_OpenAI_endpoints_are_forwarded_and_metered(string path, string field)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(defaultModel: "text-embedding-3-small"));

        using var response = await sidecar.ProxyAsync(path, token, new JsonObject { ["model"] = "gpt-4o", [field] = "four words of input" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(path, Assert.Single(sidecar.Upstream.Requests).Path);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(4, record.InputTokens);
        Assert.Equal(path == "/v1/embeddings" ? 0 : 1, Math.Sign(record.OutputTokens));
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(429)]
    public async Task A_failing_first_tier_fails_over_to_the_next_before_the_client_sees_a_byte(int status)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        await using var backup = await MockLlmProvider.StartAsync(cancellationToken: TestSidecar.Cancel);
        var (_, token) = await sidecar.AddKeyAsync(providers:
        [
            TestKeys.OpenAI(sidecar.Upstream.OpenAIBaseUrl, name: "primary", priority: 0),
            TestKeys.OpenAI(backup.OpenAIBaseUrl, credential: "sk-backup-credential", name: "backup", priority: 1),
        ]);
        sidecar.Upstream.FailNext(1, status);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("chat.completion", (await TestSidecar.ReadJsonAsync(response)).GetProperty("object").GetString());
        Assert.Single(sidecar.Upstream.Requests);
        Assert.Equal("Bearer sk-backup-credential", Assert.Single(backup.Requests).Header("Authorization"));
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal("backup", record.Provider);
        Assert.Contains("vk_sidecar_upstream_failovers_total{provider_type=\"OpenAI\",reason=\"upstream_", await sidecar.MetricsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_connection_fails_over_to_the_next_tier()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers:
        [
            TestKeys.OpenAI($"http://127.0.0.1:{LoopbackPorts.Free()}/v1", name: "down", priority: 0),
            TestKeys.OpenAI(sidecar.Upstream.OpenAIBaseUrl, name: "up", priority: 1),
        ]);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(sidecar.Upstream.Requests);
    }

    // The connection dropped before any answer, or after the answer's head but before a byte of its
    // body: either way the client has seen nothing, so the next tier serves the request.
    [Theory]
    [InlineData("dropped before the head")]
    [InlineData("dropped after the head")]
    public async Task A_connection_lost_before_the_client_sees_a_byte_fails_over_to_the_next_tier(string fault)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        await using var backup = await MockLlmProvider.StartAsync(cancellationToken: TestSidecar.Cancel);
        var (_, token) = await sidecar.AddKeyAsync(providers:
        [
            TestKeys.OpenAI(sidecar.Upstream.OpenAIBaseUrl, name: "flaky", priority: 0),
            TestKeys.OpenAI(backup.OpenAIBaseUrl, name: "steady", priority: 1),
        ]);
        if (fault == "dropped before the head")
        {
            sidecar.Upstream.DropNext(1);
        }
        else
        {
            sidecar.Upstream.BreakBeforeBodyNext(1);
        }

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("chat.completion", (await TestSidecar.ReadJsonAsync(response)).GetProperty("object").GetString());
        Assert.Single(backup.Requests);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(("steady", UsageOutcome.Success), (record.Provider, record.Outcome));
        Assert.Contains("vk_sidecar_upstream_failovers_total{provider_type=\"OpenAI\",reason=\"unreachable\"} 1", await sidecar.MetricsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_that_breaks_off_before_its_first_byte_at_the_last_provider_is_502()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.OpenAI(sidecar.Upstream.OpenAIBaseUrl, name: "headless")]);
        sidecar.Upstream.BreakBeforeBodyNext(1);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        var error = await ErrorAssert.IsErrorAsync(response, HttpStatusCode.BadGateway, "upstream_unreachable");
        Assert.Contains("'headless'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_every_provider_fails_the_client_gets_502_naming_the_last_one_and_no_credential()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers:
        [
            TestKeys.OpenAI(sidecar.Upstream.OpenAIBaseUrl, name: "first", priority: 0),
            TestKeys.OpenAI(sidecar.Upstream.OpenAIBaseUrl, name: "second", priority: 1),
        ]);
        sidecar.Upstream.FailNext(2, 500);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));
        var text = await response.Content.ReadAsStringAsync(TestSidecar.Cancel);

        var error = await ErrorAssert.IsErrorAsync(response, HttpStatusCode.BadGateway, "upstream_error");
        Assert.Contains("'second'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("sk-real-openai-credential-0001", text, StringComparison.Ordinal);
        Assert.DoesNotContain("mock provider", text, StringComparison.Ordinal);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(UsageOutcome.UpstreamError, record.Outcome);
        Assert.Equal((0L, 0L), (record.InputTokens, record.OutputTokens));
    }

    [Fact]
    public async Task An_unreachable_provider_is_502_upstream_unreachable()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(providers: [TestKeys.OpenAI($"http://127.0.0.1:{LoopbackPorts.Free()}/v1", name: "gone")]);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        var error = await ErrorAssert.IsErrorAsync(response, HttpStatusCode.BadGateway, "upstream_unreachable");
        Assert.Contains("'gone'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_provider_that_rejects_the_credential_is_reported_as_502_not_passed_through()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Upstream.FailNext(1, 401);

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.BadGateway, "upstream_auth_failed");
    }

    [Fact]
    public async Task A_rate_limited_last_provider_is_429_with_its_retry_after()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Upstream.FailNext(1, 429, TimeSpan.FromSeconds(7));

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.TooManyRequests, "upstream_rate_limited");
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task A_provider_that_does_not_answer_in_time_is_504()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => o.UpstreamTimeout = TimeSpan.FromSeconds(1));
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Upstream.DelayNext(1, TimeSpan.FromSeconds(60));

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.GatewayTimeout, "upstream_timeout");

        // The provider had the request and began on it: charged the input estimate, not nothing.
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(("timeout", true), (record.Detail, record.Estimated));
        Assert.Equal((Chat("gpt-4o").ToJsonString().Length + 3) / 4, record.InputTokens);
        Assert.Equal(0, record.OutputTokens);
        Assert.True(record.CostUsd > 0m);
    }


    [Fact]
    public async Task A_provider_client_error_is_passed_through_as_is()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();

        sidecar.Upstream.FailNext(1, 400);
        using var rejected = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));

        Assert.Equal(HttpStatusCode.BadRequest, rejected.StatusCode);
        Assert.Contains("told to fail", await rejected.Content.ReadAsStringAsync(TestSidecar.Cancel), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_usage_from_the_provider_the_record_is_an_estimate_and_says_so()
    {
        await using var sidecar = await TestSidecar.StartAsync(o => o.RequestStreamUsage = false);
        var (_, token) = await sidecar.AddKeyAsync();

        using var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o", stream: true));
        var text = await response.Content.ReadAsStringAsync(TestSidecar.Cancel);

        Assert.DoesNotContain("\"usage\"", text, StringComparison.Ordinal);
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.True(record.Estimated);
        Assert.True(record.InputTokens > 0);
        Assert.InRange(record.OutputTokens, 1, 100);
        Assert.Contains("vk_sidecar_usage_estimated_total 1", await sidecar.MetricsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_that_hangs_up_mid_stream_frees_its_parallel_slot()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync(customize: e => e.With(limits: new KeyLimits(MaxParallelRequests: 1)));
        sidecar.Upstream.PauseStreamsAfterFirstChunk();

        var response = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o", stream: true));
        using (var bounded = TestSidecar.Within(TimeSpan.FromSeconds(20)))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(bounded.Token));
            Assert.StartsWith("data: ", await reader.ReadLineAsync(bounded.Token), StringComparison.Ordinal);
            using var busy = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));
            await ErrorAssert.IsErrorAsync(busy, HttpStatusCode.TooManyRequests, "rate_limit_parallel");
        }

        response.Dispose();
        sidecar.Upstream.ResumeStreams();

        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Any(x => x.Outcome != UsageOutcome.Rejected)), r => r.Outcome != UsageOutcome.Rejected);
        // Whether the rest of the stream still fit into socket buffers decides which of the two it was.
        Assert.Contains(record.Outcome, new[] { UsageOutcome.Cancelled, UsageOutcome.Success });
        using var next = await sidecar.ProxyAsync("/v1/chat/completions", token, Chat("gpt-4o"));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }

    [Fact]
    public async Task A_non_ascii_header_value_is_forwarded_as_sent_not_taken_for_an_unreachable_provider()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        using var handler = new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => System.Text.Encoding.UTF8 };
        using var client = new HttpClient(handler) { BaseAddress = sidecar.Host.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = TestSidecar.Json(Chat("gpt-4o")) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        request.Headers.TryAddWithoutValidation("x-user-name", "José Müller");

        using var response = await client.SendAsync(request, TestSidecar.Cancel);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("José Müller", Assert.Single(sidecar.Upstream.Requests).Header("x-user-name"));
        var record = Assert.Single(await sidecar.WaitForUsageAsync(r => r.Count > 0));
        Assert.Equal(UsageOutcome.Success, record.Outcome);
    }

    /// <summary>Reads one HTTP/1.1 request with a Content-Length body off the stream.</summary>
    private static async Task ReadRequestAsync(Stream stream)
    {
        var received = new List<byte>();
        var buffer = new byte[4096];
        int headEnd;
        while ((headEnd = IndexOfHeadEnd(received)) < 0)
        {
            var read = await stream.ReadAsync(buffer, TestSidecar.Cancel);
            Assert.True(read > 0, "the sidecar closed the connection before its request head");
            received.AddRange(buffer.AsSpan(0, read));
        }

        var head = Encoding.ASCII.GetString([.. received[..headEnd]]);
        var length = int.Parse(head.Split("\r\n").Single(line => line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        for (var body = received.Count - headEnd - 4; body < length;)
        {
            var read = await stream.ReadAsync(buffer, TestSidecar.Cancel);
            Assert.True(read > 0, "the sidecar closed the connection before its request body");
            body += read;
        }

        static int IndexOfHeadEnd(List<byte> bytes) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes).IndexOf("\r\n\r\n"u8);
    }
}
