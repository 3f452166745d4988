using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace VirtualKeys.Cli.Demo;

/// <summary>
/// Sends chat completions that name no model through the sidecar's OpenAI-compatible endpoint, one
/// after another, as an SDK would with the virtual key as its API key.
/// </summary>
internal static class ChatBurst
{
    public static async Task<IReadOnlyList<ChatOutcome>> SendAsync(Uri sidecar, string token, int count, Action<ChatOutcome> report, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = sidecar, Timeout = TimeSpan.FromSeconds(30) };
        var outcomes = new List<ChatOutcome>();
        for (var number = 1; number <= count; number++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
            {
                Content = new StringContent(
                    $$"""{"messages":[{"role":"user","content":"Hello from vk demo, request {{number}}"}]}""",
                    Encoding.UTF8,
                    "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var outcome = Read(number, (int)response.StatusCode, body, response.Headers.RetryAfter?.Delta);
            outcomes.Add(outcome);
            report(outcome);
        }

        return outcomes;
    }

    private static ChatOutcome Read(int number, int status, string body, TimeSpan? retryAfter)
    {
        string? model = null;
        string? code = null;
        long? input = null;
        long? output = null;
        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String)
            {
                model = m.GetString();
            }

            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                input = usage.TryGetProperty("prompt_tokens", out var p) && p.TryGetInt64(out var pv) ? pv : null;
                output = usage.TryGetProperty("completion_tokens", out var c) && c.TryGetInt64(out var cv) ? cv : null;
            }

            if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("code", out var errorCode) && errorCode.ValueKind == JsonValueKind.String)
            {
                code = errorCode.GetString();
            }
        }
        catch (JsonException)
        {
            code = "not_json";
        }

        var retry = retryAfter is { } delay ? $"{delay.TotalSeconds:0}s" : null;
        return new ChatOutcome(number, status, model, code, retry, input, output);
    }
}
