using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using VirtualKeys.Sidecar.Tests.Support;

namespace VirtualKeys.Sidecar.Tests.Hosting;

/// <summary>
/// Requests Kestrel refuses before any middleware runs (broken framing, oversized request line or
/// headers) get the sidecar's JSON error body too, over a real socket, and other answers on the same
/// connection pass through untouched.
/// </summary>
public sealed class KestrelRejectionTests
{
    public static TheoryData<string, string, int, string> Broken() => new()
    {
        { "garbage request line", "HELLO THERE\r\n\r\n", 400, "malformed_http" },
        { "space in a header name", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400, "malformed_http" },
        { "bare CR in a header value", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\rb\r\n\r\n", 400, "malformed_http" },
        { "Content-Length not a number", "POST /v1/resolve HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n{}", 400, "malformed_http" },
        { "request target of 20 KiB", "GET /" + new string('a', 20 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long" },
        { "header of 40 KiB", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + new string('a', 40 * 1024) + "\r\n\r\n", 431, "headers_too_large" },
        { "HTTP/1.2", "GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n", 505, "http_version_not_supported" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public async Task A_request_Kestrel_refuses_gets_a_JSON_error(string what, string request, int status, string code)
    {
        await using var sidecar = await TestSidecar.StartAsync();

        var answers = await ExchangeAsync(sidecar, request);

        var answer = Assert.Single(answers);
        Assert.True(status == answer.Status, $"{what}: {answer}");
        AssertJsonError(answer, code);
        Assert.Equal("close", answer.Headers["connection"]);
    }

    [Fact]
    public async Task Answers_before_a_refused_request_on_the_same_connection_pass_through_unchanged()
    {
        await using var sidecar = await TestSidecar.StartAsync();

        var answers = await ExchangeAsync(
            sidecar,
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            + "POST /v1/resolve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            + "HELLO THERE\r\n\r\n");

        Assert.Equal(3, answers.Count);
        Assert.Equal(200, answers[0].Status);
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(answers[0].Body).RootElement.ValueKind);
        Assert.Equal(401, answers[1].Status);
        AssertJsonError(answers[1], "missing_api_key", "authentication_error");
        Assert.Equal(400, answers[2].Status);
        AssertJsonError(answers[2], "malformed_http");
    }

    [Fact]
    public async Task A_providers_empty_4xx_forwarded_on_a_closing_connection_is_left_as_the_provider_sent_it()
    {
        await using var sidecar = await TestSidecar.StartAsync();
        var (_, token) = await sidecar.AddKeyAsync();
        sidecar.Upstream.RespondEmptyNext(1, 422);
        var body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

        var answers = await ExchangeAsync(
            sidecar,
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + token
            + "\r\nContent-Type: application/json\r\nContent-Length: " + body.Length + "\r\n\r\n" + body);

        var answer = Assert.Single(answers);
        Assert.Equal(422, answer.Status);
        Assert.Equal(string.Empty, answer.Body);
        Assert.False(answer.Headers.ContainsKey("content-type"), answer.ToString());
    }

    private static void AssertJsonError(Answer answer, string code, string type = "invalid_request_error")
    {
        Assert.StartsWith("application/json", answer.Headers["content-type"], StringComparison.Ordinal);
        Assert.Equal(Encoding.UTF8.GetByteCount(answer.Body), int.Parse(answer.Headers["content-length"], System.Globalization.CultureInfo.InvariantCulture));
        var error = JsonDocument.Parse(answer.Body).RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }

    /// <summary>Sends raw bytes, reads until the sidecar closes the connection, splits the answers.</summary>
    private static async Task<List<Answer>> ExchangeAsync(TestSidecar sidecar, string request)
    {
        using var timeout = TestSidecar.Within(TimeSpan.FromSeconds(20));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(sidecar.Client.BaseAddress!.Host, sidecar.Client.BaseAddress.Port, timeout.Token);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        using var received = new MemoryStream();
        await stream.CopyToAsync(received, timeout.Token);
        return Answer.Split(Encoding.UTF8.GetString(received.ToArray()));
    }

    private sealed record Answer(int Status, Dictionary<string, string> Headers, string Body)
    {
        public static List<Answer> Split(string text)
        {
            var answers = new List<Answer>();
            while (text.Length > 0)
            {
                var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                Assert.True(headEnd > 0, "an answer without a complete head: " + text);
                var lines = text[..headEnd].Split("\r\n");
                var headers = lines.Skip(1)
                    .Select(l => l.Split(':', 2))
                    .ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim(), StringComparer.Ordinal);
                var rest = text[(headEnd + 4)..];
                string body;
                if (headers.TryGetValue("transfer-encoding", out var encoding) && encoding == "chunked")
                {
                    var builder = new StringBuilder();
                    while (true)
                    {
                        var sizeEnd = rest.IndexOf("\r\n", StringComparison.Ordinal);
                        var size = Convert.ToInt32(rest[..sizeEnd], 16);
                        rest = rest[(sizeEnd + 2)..];
                        if (size == 0)
                        {
                            rest = rest[2..];
                            break;
                        }

                        builder.Append(rest[..size]);
                        rest = rest[(size + 2)..];
                    }

                    body = builder.ToString();
                }
                else
                {
                    var length = headers.TryGetValue("content-length", out var value) ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : 0;
                    body = rest[..length];
                    rest = rest[length..];
                }

                answers.Add(new Answer(int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), headers, body));
                text = rest;
            }

            return answers;
        }

        public override string ToString() => $"{Status} {string.Join(", ", Headers.Select(h => h.Key + ": " + h.Value))} {Body}";
    }
}
