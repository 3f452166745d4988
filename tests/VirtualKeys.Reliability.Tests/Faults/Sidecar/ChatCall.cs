using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using VirtualKeys.Reliability.Tests.Support;

namespace VirtualKeys.Reliability.Tests.Faults.Sidecar;

/// <summary>
/// One non-streamed chat completion through the sidecar's OpenAI-compatible proxy. The mock provider
/// counts input tokens as the prompt's words, so a prompt of N words is recognisable in the registry.
/// </summary>
internal static class ChatCall
{
    /// <summary>A chat request whose prompt is <paramref name="words"/> words of <paramref name="word"/>.</summary>
    public static string Body(string model, int words, bool stream = false, int? maxTokens = null, string word = "word")
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = string.Join(' ', Enumerable.Repeat(word, words)) }),
        };
        if (maxTokens is { } max)
        {
            body["max_tokens"] = max;
        }

        if (stream)
        {
            body["stream"] = true;
        }

        return body.ToJsonString();
    }

    public static HttpRequestMessage Request(string token, string body) => new(HttpMethod.Post, "/v1/chat/completions")
    {
        Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
        Content = new StringContent(body, Encoding.UTF8, "application/json"),
    };

    /// <summary>Sends it; a connection that fails or is refused is an outcome too (status 0), not an exception.</summary>
    public static async Task<ChatOutcome> SendAsync(HttpClient client, string token, string body, string source, CancellationToken cancellationToken)
    {
        try
        {
            using var request = Request(token, body);
            using var response = await client.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            var status = (int)response.StatusCode;
            if (status != 200)
            {
                SecretLedger.Observe(source + ": error body", text);
                return new ChatOutcome(status, ErrorCode(text), 0, 0);
            }

            using var document = JsonDocument.Parse(text);
            var usage = document.RootElement.GetProperty("usage");
            return new ChatOutcome(200, null, usage.GetProperty("prompt_tokens").GetInt64(), usage.GetProperty("completion_tokens").GetInt64());
        }
        catch (HttpRequestException ex)
        {
            SecretLedger.Observe(source + ": transport error", ex.ToString());
            return new ChatOutcome(0, "transport_error", 0, 0);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            SecretLedger.Observe(source + ": timeout", ex.Message);
            return new ChatOutcome(0, "client_timeout", 0, 0);
        }
    }

    public static string? ErrorCode(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("error", out var error) && error.TryGetProperty("code", out var code) ? code.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
