using System.Text;

namespace VirtualKeys.Reliability.Tests.BadInput.SidecarRequests;

/// <summary>
/// The hostile requests: bad JSON, wrong types, huge bodies, header injection, malformed and foreign
/// tokens, SQL in the token, slow clients, unknown paths and wrong methods.
/// </summary>
internal static class HostileRequestCorpus
{
    private const string Json = "application/json";
    private const string Resolve = "/v1/resolve";
    private const string Usage = "/v1/usage";
    private const string Chat = "/v1/chat/completions";
    private const string Messages = "/v1/messages";

    public static IReadOnlyList<HostileRequest> All { get; } = Build();

    private static List<HostileRequest> Build()
    {
        var cases = new List<HostileRequest>();
        void Add(string id, string what, int? status, ExpectedAnswer answer, Func<CorpusKeys, Func<Stream, CancellationToken, Task>> send) =>
            cases.Add(new HostileRequest(id, what, status, answer, send));
        void Api(string id, string what, int status, string path, string body, string? contentType = Json, Func<CorpusKeys, string?>? bearer = null) =>
            Add(id, what, status, ExpectedAnswer.JsonError, keys => Whole(RawHttp.Request("POST", path, contentType, Encoding.UTF8.GetBytes(body), Auth(bearer?.Invoke(keys)))));
        void Token(string id, string what, Func<CorpusKeys, string> header, string path = Resolve, string body = "{}") =>
            Add(id, what, 401, ExpectedAnswer.JsonError, keys => Whole(RawHttp.Request("POST", path, Json, Encoding.UTF8.GetBytes(body), [header(keys)])));
        void Framing(string id, string what, int status, Func<CorpusKeys, byte[]> bytes) =>
            Add(id, what, status, ExpectedAnswer.FramingError, keys => Whole(bytes(keys)));
        static string? Valid(CorpusKeys keys) => keys.Valid;

        // Bad JSON.
        Api("json-truncated", "a body cut off mid-string", 400, Resolve, "{\"model\": \"gpt");
        Api("json-trailing-garbage", "a valid object followed by garbage", 400, Resolve, "{\"model\":\"gpt-4o\"} trailing");
        Api("json-deep-arrays", "arrays nested 5,000 deep", 400, Resolve, new string('[', 5000) + new string(']', 5000));
        Api("json-deep-objects", "objects nested 1,500 deep", 400, Resolve, string.Concat(Enumerable.Repeat("{\"a\":", 1500)) + "1" + new string('}', 1500));
        Add("json-invalid-utf8", "bytes that are not UTF-8 inside a string", 400, ExpectedAnswer.JsonError, _ => Whole(RawHttp.Request("POST", Resolve, Json, [.. "{\"model\":\""u8, 0xFF, 0xFE, 0xC3, .. "\"}"u8])));
        Api("json-nan", "NaN as a number", 400, Resolve, "{\"estimatedInputTokens\": NaN}");
        Api("json-comment", "a JavaScript comment", 400, Resolve, "{/* hi */ \"model\": \"gpt-4o\"}");
        Api("json-single-quotes", "single-quoted strings", 400, Resolve, "{'model': 'gpt-4o'}");
        Api("json-null", "the literal null", 400, Resolve, "null");
        Api("json-empty", "an empty body", 400, Usage, "");
        Api("json-chat-truncated", "a chat body cut off", 400, Chat, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi", bearer: Valid);
        Add("chat-model-invalid-utf8", "a chat model with bytes that are not UTF-8", 400, ExpectedAnswer.JsonError,
            keys => Whole(RawHttp.Request("POST", Chat, Json, [.. "{\"model\":\""u8, 0xFF, 0xFE, .. "\"}"u8], Auth(keys.Valid))));
        Add("messages-model-invalid-utf8", "an Anthropic model with bytes that are not UTF-8", 400, ExpectedAnswer.JsonError,
            keys => Whole(RawHttp.Request("POST", Messages, Json, [.. "{\"model\":\"claude-"u8, 0xC3, .. "\",\"max_tokens\":5}"u8], Auth(keys.Valid))));
        Api("chat-model-lone-surrogate", "a chat model holding an escaped lone surrogate", 400, Chat, "{\"model\": \"gpt-4o\\ud800\"}", bearer: Valid);

        // Wrong types and values.
        Api("type-token-number", "virtualKey as a number", 400, Resolve, "{\"virtualKey\": 12345}");
        Api("type-token-object", "virtualKey as an object", 400, Resolve, "{\"virtualKey\": {\"$ne\": null}}");
        Api("type-model-array", "model as an array", 400, Resolve, "{\"model\": [\"gpt-4o\"]}");
        Api("type-estimate-string", "estimatedInputTokens as a word", 400, Resolve, "{\"estimatedInputTokens\": \"many\"}");
        Api("value-estimate-negative", "a negative token estimate", 400, Resolve, "{\"estimatedInputTokens\": -1}", bearer: Valid);
        Api("value-estimate-overflow", "a token estimate beyond 64 bits", 400, Resolve, "{\"estimatedInputTokens\": 9223372036854775808}");
        Api("value-estimate-implausible", "a token estimate of a billion", 400, Resolve, "{\"estimatedInputTokens\": 1000000000}", bearer: Valid);
        Api("value-max-output-fraction", "maxOutputTokens as a fraction", 400, Resolve, "{\"maxOutputTokens\": 1.5}");
        Api("value-model-control", "a model name with NUL, CR and LF (log and header injection)", 400, Resolve, "{\"model\": \"gpt-4o\\u0000\\r\\nX-Injected: 1\"}", bearer: Valid);
        Api("value-model-huge", "a model name of 300 characters", 400, Resolve, "{\"model\": \"" + new string('m', 300) + "\"}", bearer: Valid);
        Api("chat-model-number", "a chat model as a number", 400, Chat, "{\"model\": 4}", bearer: Valid);
        Api("chat-stream-string", "stream as a string", 400, Chat, "{\"stream\": \"yes\"}", bearer: Valid);
        Api("chat-max-tokens-negative", "negative max_tokens", 400, Chat, "{\"max_tokens\": -1}", bearer: Valid);
        Api("chat-duplicate-model", "two model fields (parser differential)", 400, Chat, "{\"model\": \"gpt-4o-mini\", \"model\": \"gpt-4o\"}", bearer: Valid);
        Api("messages-max-tokens-word", "Anthropic max_tokens as a word", 400, Messages, "{\"max_tokens\": \"ten\"}");

        // The usage API.
        Api("usage-empty-object", "a report without a decision id", 400, Usage, "{}");
        Api("usage-decision-number", "a decision id as a number", 400, Usage, "{\"decisionId\": 7}");
        Api("usage-unknown-decision", "a decision id never issued", 404, Usage, "{\"decisionId\": \"d00000000000000000000000000000000\", \"inputTokens\": 1}");
        Api("usage-sql-decision", "SQL in the decision id", 404, Usage, "{\"decisionId\": \"x' OR '1'='1'; DROP TABLE usage_events; --\"}");
        Api("usage-negative-tokens", "negative output tokens", 400, Usage, "{\"decisionId\": \"d1\", \"outputTokens\": -100}");
        Api("usage-latency-word", "latency as a word", 400, Usage, "{\"decisionId\": \"d1\", \"latencyMs\": \"slow\"}");
        Api("usage-latency-negative", "a negative latency", 400, Usage, "{\"decisionId\": \"d1\", \"latencyMs\": -5}");
        Api("usage-status-object", "status as an object", 400, Usage, "{\"decisionId\": \"d1\", \"status\": {\"code\": 200}}");
        Api("usage-provider-nul", "a provider name with a NUL (PostgreSQL refuses it in a usage row)", 400, Usage, "{\"decisionId\": \"d1\", \"provider\": \"openai\\u0000\"}");
        Api("usage-provider-huge", "a provider name of 5,000 characters", 400, Usage, "{\"decisionId\": \"d1\", \"provider\": \"" + new string('p', 5000) + "\"}");
        Api("usage-status-unknown-word", "an unknown status word", 400, Usage, "{\"decisionId\": \"d1\", \"status\": \"exploded\"}");

        // Content types.
        Api("type-text-plain", "JSON sent as text/plain", 415, Resolve, "{}", "text/plain");
        Api("type-form", "a form post", 415, Resolve, "model=gpt-4o", "application/x-www-form-urlencoded");
        Api("type-missing", "no Content-Type", 415, Chat, "{}", null);
        Api("type-multipart", "a multipart body", 415, Resolve, "--b\r\n\r\n{}\r\n--b--", "multipart/form-data; boundary=b");
        Add("type-gzip-garbage", "Content-Encoding gzip over bytes that are not gzip", 400, ExpectedAnswer.JsonError, _ => Whole(RawHttp.Request("POST", Resolve, Json, [0x1F, 0x8B, 0x00, 0x42, 0x13, 0x37], ["Content-Encoding: gzip"])));

        // Sizes.
        Api("size-resolve-20k", "a resolve body of 20 KiB (the API limit is 16 KiB)", 413, Resolve, "{\"model\": \"" + new string('m', 20 * 1024) + "\"}");
        Api("size-usage-20k", "a usage body of 20 KiB", 413, Usage, "{\"decisionId\": \"" + new string('d', 20 * 1024) + "\"}");
        Add("size-declared-17m", "a chat request declaring 17 MiB (the proxy limit is 16 MiB), body not sent", 413, ExpectedAnswer.JsonError, keys => Whole(Head("POST", Chat, ["Content-Type: application/json", "Authorization: Bearer " + keys.Valid, "Content-Length: " + (17 << 20)])));
        Add("size-chunked-17m", "a chunked chat body of 17 MiB that never declares its size", 413, ExpectedAnswer.JsonError, keys => async (stream, ct) =>
        {
            await stream.WriteAsync(Head("POST", Chat, ["Content-Type: application/json", "Authorization: Bearer " + keys.Valid, "Transfer-Encoding: chunked"]), ct);
            var piece = Encoding.ASCII.GetBytes(new string(' ', 64 * 1024));
            var prefix = Encoding.ASCII.GetBytes($"{piece.Length:x}\r\n");
            for (var i = 0; i < 17 * 16; i++)
            {
                await stream.WriteAsync(prefix, ct);
                await stream.WriteAsync(piece, ct);
                await stream.WriteAsync("\r\n"u8.ToArray(), ct);
            }

            await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), ct);
        });

        // Tokens.
        Token("token-missing", "no token at all", _ => "X-Nothing: 1");
        Token("token-provider-key", "a raw provider key instead of a virtual key", _ => "Authorization: Bearer sk-proj-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        Token("token-short", "a token too short", _ => "Authorization: Bearer vk_abc");
        Token("token-long", "a valid token with one character more", keys => "Authorization: Bearer " + keys.Valid + "A");
        Token("token-truncated", "a valid token without its last character", keys => "Authorization: Bearer " + keys.Valid[..^1]);
        Token("token-uppercase-id", "the key id in upper case", keys => "Authorization: Bearer vk_" + keys.Valid[3..19].ToUpperInvariant() + keys.Valid[19..]);
        Token("token-sql", "SQL in the token, padded to a token's length", _ => "Authorization: Bearer " + ("vk_' OR '1'='1' --; DROP TABLE virtual_keys; SELECT * FROM x").PadRight(63, '-')[..63]);
        Token("token-sql-secret", "SQL in the secret part of a well-formed key id", keys => "Authorization: Bearer " + keys.Valid[..20] + "'OR'1'='1'--xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"[..43]);
        Add("token-homoglyph", "a Cyrillic letter in the key id of the body token", 401, ExpectedAnswer.JsonError, keys => Whole(RawHttp.Request("POST", Resolve, Json, Encoding.UTF8.GetBytes("{\"virtualKey\": \"vk_\u0430" + keys.Valid[4..] + "\"}"))));
        Token("token-unknown", "a well-formed token that was never issued", keys => "Authorization: Bearer " + keys.Unknown);
        Token("token-wrong-secret", "a real key id with another secret", keys => "Authorization: Bearer " + keys.WrongSecret);
        Token("token-basic", "Basic authentication", _ => "Authorization: Basic dXNlcjpwYXNzd29yZA==");
        Token("token-bearer-empty", "Bearer with nothing after it", _ => "Authorization: Bearer ");
        Token("token-two", "two tokens in one header", keys => "Authorization: Bearer " + keys.Unknown + " " + keys.Valid);
        Token("token-10k", "a 10 KiB bearer token", _ => "Authorization: Bearer vk_" + new string('a', 10 * 1024));
        Token("token-anthropic-provider-key", "an Anthropic provider key in x-api-key", _ => "x-api-key: sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Messages, "{\"max_tokens\": 10, \"messages\": []}");
        Token("token-in-body-padded", "the body token with a trailing newline", _ => "X-Nothing: 1", Resolve, "{\"virtualKey\": \"vk_aaaaaaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\\n\"}");
        Token("token-in-body-nul", "the body token with a NUL inside", _ => "X-Nothing: 1", Resolve, "{\"virtualKey\": \"vk_aaaaaaaaaaaaaaaa\\u0000AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
        Add("header-injected-line", "a second Authorization header smuggled after a header value (a client that failed to strip CRLF)", 401, ExpectedAnswer.JsonError, keys => Whole(RawHttp.Request("POST", Resolve, Json, "{}"u8.ToArray(), ["X-Note: hello", "Authorization: Bearer " + keys.Unknown])));

        // Unknown paths and wrong methods.
        Add("path-admin", "an admin path", 404, ExpectedAnswer.JsonError, _ => Whole(RawHttp.Request("GET", "/admin", null, null)));
        Add("path-dot-dot", "path traversal", 404, ExpectedAnswer.JsonError, _ => Whole(RawHttp.Request("GET", "/../../etc/passwd", null, null)));
        Add("path-encoded-crlf", "an encoded CRLF and Set-Cookie in the path (response splitting)", 404, ExpectedAnswer.JsonError, _ => Whole(RawHttp.Request("GET", "/v1/%0d%0aSet-Cookie:%20stolen=1", null, null)));
        Add("path-models", "an OpenAI route the sidecar does not serve", 404, ExpectedAnswer.JsonError, _ => Whole(RawHttp.Request("GET", "/v1/models", null, null)));
        Add("path-env", "a probe for a .env file", 404, ExpectedAnswer.JsonError, _ => Whole(RawHttp.Request("GET", "/.env", null, null)));
        foreach (var (method, path) in new[] { ("PUT", Resolve), ("DELETE", Usage), ("PATCH", Chat), ("OPTIONS", Resolve), ("GET", Messages), ("TRACE", Resolve) })
        {
            Add($"method-{method.ToLowerInvariant()}-{path.Split('/')[^1]}", $"{method} on {path}", 405, ExpectedAnswer.JsonError, _ => Whole(RawHttp.Request(method, path, Json, "{}"u8.ToArray())));
        }

        // Broken framing: Kestrel refuses these before any middleware runs.
        Framing("framing-garbage-line", "a request line that is not HTTP", 400, _ => Encoding.ASCII.GetBytes("HELLO THERE\r\n\r\n"));
        Framing("framing-space-in-header-name", "a space inside a header name", 400, _ => Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n"));
        Framing("framing-bare-cr", "a bare CR inside a header value (header injection)", 400, keys => Encoding.ASCII.GetBytes("POST /v1/resolve HTTP/1.1\r\nHost: x\r\nX-Note: a\rAuthorization: Bearer " + keys.Unknown + "\r\nContent-Length: 2\r\n\r\n{}"));
        Framing("framing-nul-in-header", "a NUL inside a header value", 400, _ => Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\0b\r\n\r\n"));
        Framing("framing-two-hosts", "two Host headers", 400, _ => Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
        Framing("framing-bad-length", "a Content-Length that is not a number", 400, _ => Encoding.ASCII.GetBytes("POST /v1/resolve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12abc\r\n\r\n{}"));
        Framing("framing-encoded-nul", "a NUL byte encoded in the path", 400, _ => RawHttp.Request("POST", "/v1/resolve%00", Json, "{}"u8.ToArray()));
        Framing("framing-absolute-form", "an absolute-form target naming another host (proxy abuse)", 400, _ => RawHttp.Request("GET", "http://169.254.169.254/latest/meta-data/", null, null));
        Framing("framing-long-target", "a request target of 20 KiB", 414, _ => Encoding.ASCII.GetBytes("GET /" + new string('a', 20 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n"));
        Framing("framing-huge-header", "a 40 KiB header", 431, _ => Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + new string('a', 40 * 1024) + "\r\n\r\n"));
        Framing("framing-many-headers", "150 headers", 431, _ => Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 150).Select(i => $"X-H{i}: {i}\r\n")) + "\r\n"));
        Add("smuggle-length-and-chunked", "Content-Length and chunked together (request smuggling); the chunked body wins", 401, ExpectedAnswer.JsonError, _ => Whole(Encoding.ASCII.GetBytes("POST /v1/resolve HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")));
        Add("smuggle-bad-chunk", "a chunk size that is not hexadecimal", 400, ExpectedAnswer.JsonError, _ => Whole(Encoding.ASCII.GetBytes("POST /v1/resolve HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")));

        // Slow clients.
        Add("slow-headers", "slowloris: a header line every second, never finishing", null, ExpectedAnswer.ErrorOrClose, _ => async (stream, ct) =>
        {
            await stream.WriteAsync("POST /v1/resolve HTTP/1.1\r\nHost: x\r\n"u8.ToArray(), ct);
            for (var i = 0; ; i++)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"X-Slow-{i}: {i}\r\n"), ct);
            }
        });
        Add("slow-body", "a body trickled at one byte per second", null, ExpectedAnswer.ErrorOrClose, keys => async (stream, ct) =>
        {
            await stream.WriteAsync(Head("POST", Resolve, ["Content-Type: application/json", "Authorization: Bearer " + keys.Valid, "Content-Length: 5000"]), ct);
            for (var i = 0; ; i++)
            {
                await stream.WriteAsync(i == 0 ? "{"u8.ToArray() : " "u8.ToArray(), ct);
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
        });
        Add("stalled-body", "headers promise a body that never comes", null, ExpectedAnswer.ErrorOrClose, keys => async (stream, ct) =>
        {
            await stream.WriteAsync(Head("POST", Chat, ["Content-Type: application/json", "Authorization: Bearer " + keys.Valid, "Content-Length: 100"]), ct);
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        });

        return cases;
    }

    private static IEnumerable<string> Auth(string? token) => token is null ? [] : ["Authorization: Bearer " + token];

    private static byte[] Head(string method, string path, IEnumerable<string> headers) =>
        Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + string.Concat(headers.Select(h => h + "\r\n")) + "\r\n");

    private static Func<Stream, CancellationToken, Task> Whole(byte[] bytes) => (stream, ct) => stream.WriteAsync(bytes, ct).AsTask();
}
