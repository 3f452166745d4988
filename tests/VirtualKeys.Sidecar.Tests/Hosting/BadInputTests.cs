using System.Net;
using System.Text;
using System.Text.Json;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Hosting;

/// <summary>Whatever a client sends, the answer is a 4xx with a JSON error body, never a 500.</summary>
public sealed class BadInputTests
{
    public static TheoryData<string, string, string?, string, int> Corpus()
    {
        var data = new TheoryData<string, string, string?, string, int>();
        foreach (var path in new[] { "/v1/resolve", "/v1/usage", "/v1/chat/completions", "/v1/messages", "/v1/embeddings" })
        {
            data.Add("POST", path, "application/json", "{\"model\": ", 400);
            data.Add("POST", path, "application/json", "not json at all", 400);
            data.Add("POST", path, "application/json", "[1, 2, 3]", 400);
            data.Add("POST", path, "application/json", "\"a string\"", 400);
            data.Add("POST", path, "application/json", "", 400);
            data.Add("POST", path, "application/json", "{} {}", 400);
            data.Add("POST", path, "text/plain", "{}", 415);
            data.Add("POST", path, null, "{}", 415);
            data.Add("POST", path, "application/x-www-form-urlencoded", "model=gpt-4o", 415);
            data.Add("GET", path, null, "", 405);
            data.Add("PUT", path, "application/json", "{}", 405);
            data.Add("DELETE", path, null, "", 405);
        }

        data.Add("POST", "/v1/resolve", "application/json", "null", 400);
        data.Add("POST", "/v1/resolve", "application/json", "{\"virtualKey\": 42}", 400);
        data.Add("POST", "/v1/resolve", "application/json", "{\"virtualKey\": \"vk_x\", \"model\": [\"gpt-4o\"]}", 400);
        data.Add("POST", "/v1/resolve", "application/json", "{\"model\": {\"name\": \"gpt-4o\"}}", 400);
        data.Add("POST", "/v1/resolve", "application/json", "{\"estimatedInputTokens\": \"many\"}", 400);
        data.Add("POST", "/v1/resolve", "application/json", "{\"estimatedInputTokens\": -5}", 400);
        data.Add("POST", "/v1/resolve", "application/json", "{\"maxOutputTokens\": 1.5}", 400);
        data.Add("POST", "/v1/resolve", "application/json", "{\"maxOutputTokens\": 1e400}", 400);
        data.Add("POST", "/v1/resolve", "application/json", "{}", 401);
        data.Add("POST", "/v1/resolve", "application/json; charset=utf-8", "{\"virtualKey\": \"\"}", 401);
        data.Add("POST", "/v1/usage", "application/json", "{}", 400);
        data.Add("POST", "/v1/usage", "application/json", "{\"decisionId\": 7}", 400);
        data.Add("POST", "/v1/usage", "application/json", "{\"decisionId\": \"x\", \"latencyMs\": \"slow\"}", 400);
        data.Add("POST", "/v1/chat/completions", "application/json", "{\"model\": 4}", 400);
        data.Add("POST", "/v1/chat/completions", "application/json", "{\"model\": \"a\", \"model\": \"b\"}", 400);
        data.Add("POST", "/v1/chat/completions", "application/json", "{\"stream\": \"yes\"}", 400);
        data.Add("POST", "/v1/chat/completions", "application/json", "{\"max_tokens\": -1}", 400);
        data.Add("POST", "/v1/chat/completions", "application/json", "{\"messages\": []}", 401);
        data.Add("POST", "/v1/messages", "application/json", "{\"max_tokens\": \"ten\"}", 400);
        data.Add("GET", "/v1/nothing-here", null, "", 404);
        data.Add("POST", "/v1/nothing-here", "application/json", "{}", 404);
        data.Add("GET", "/", null, "", 404);
        data.Add("GET", "/v2/resolve", null, "", 404);
        data.Add("POST", "/healthz", "application/json", "{}", 405);
        return data;
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Bad_input_gets_a_4xx_json_error(string method, string path, string? contentType, string body, int status)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is not ("GET" or "DELETE"))
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        using var response = await sidecar.Client.SendAsync(request, TestSidecar.Cancel);
        var text = await response.Content.ReadAsStringAsync(TestSidecar.Cancel);

        Assert.True(status == (int)response.StatusCode, $"{method} {path} [{contentType}] {body} -> {(int)response.StatusCode} {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("code").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData("/v1/resolve")]
    [InlineData("/v1/usage")]
    [InlineData("/v1/chat/completions")]
    [InlineData("/v1/messages")]
    public async Task A_body_declared_larger_than_the_limit_is_413_json(string path)
    {
        await using var sidecar = await TestSidecar.StartAsync(o =>
        {
            o.MaxApiBodyBytes = 1024;
            o.MaxRequestBodyBytes = 2048;
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent($"{{\"pad\":\"{new string('x', 40 * 1024)}\"}}", Encoding.UTF8, "application/json"),
        };

        // Expect: 100-continue, as large uploads do: the refusal comes before the body is sent.
        request.Headers.ExpectContinue = true;
        using var response = await sidecar.Client.SendAsync(request, TestSidecar.Cancel);

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "request_too_large");
    }

    [Theory]
    [InlineData("/v1/resolve")]
    [InlineData("/v1/usage")]
    public async Task A_chunked_body_growing_past_the_limit_is_413_json(string path)
    {
        await using var sidecar = await TestSidecar.StartAsync(o => o.MaxApiBodyBytes = 1024);
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($"{{\"pad\":\"{new string('x', 4096)}\"}}"))),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;

        using var response = await sidecar.Client.SendAsync(request, TestSidecar.Cancel);

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "request_too_large");
    }

    [Theory]
    [InlineData("/v1/resolve", "{\"estimatedInputTokens\": \"many\"}", "$.estimatedInputTokens")]
    [InlineData("/v1/usage", "{\"decisionId\": \"x\", \"inputTokens\": [1]}", "$.inputTokens")]
    public async Task A_wrong_value_names_the_endpoints_own_field(string path, string body, string field)
    {
        await using var sidecar = await TestSidecar.StartAsync();

        using var response = await sidecar.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), TestSidecar.Cancel);

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_json");
        Assert.Contains(field, await response.Content.ReadAsStringAsync(TestSidecar.Cancel), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v1/resolve")]
    [InlineData("/v1/usage")]
    public async Task A_property_name_of_the_clients_own_is_not_echoed(string path)
    {
        await using var sidecar = await TestSidecar.StartAsync();
        const string pasted = "sk3kq9PastedCredentialAsAName";

        using var response = await sidecar.Client.PostAsync(path, new StringContent($"{{\"{pasted}\": [", Encoding.UTF8, "application/json"), TestSidecar.Cancel);

        await ErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_json");
        Assert.DoesNotContain(pasted, await response.Content.ReadAsStringAsync(TestSidecar.Cancel), StringComparison.Ordinal);
    }
}
